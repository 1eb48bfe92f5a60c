-- pg_dump saves the rows of these tables and the positions of these sequences with
-- the database, and a restore brings them back after CREATE EXTENSION. Dispatch
-- counters are not trusted from the dump: they start at zero on restore and are
-- rebuilt by the delivery triggers as the deliveries are loaded.
SELECT pg_catalog.pg_extension_config_dump('messaging.person', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.person_group', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.group_member', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.relationship', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.message', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.dispatch', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.delivery', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.alert', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.wecom_config', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.smtp_config', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.message_message_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.dispatch_dispatch_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.delivery_delivery_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.alert_alert_id_seq', '');
