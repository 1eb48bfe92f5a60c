-- The extension installs its schema, types, tables and roles.
BEGIN;
SELECT plan(4);

SELECT has_schema('messaging');
SELECT enum_has_labels('messaging', 'channel', ARRAY['wechat', 'email', 'alert']);
SELECT has_table('messaging', 'delivery', 'deliveries are kept in messaging.delivery');
SELECT has_role('messaging_sender');

SELECT * FROM finish();
ROLLBACK;
