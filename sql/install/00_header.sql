-- mis_messaging install script, assembled from sql/install/*.sql in name order.
\echo Use "CREATE EXTENSION mis_messaging" to load this file. \quit
