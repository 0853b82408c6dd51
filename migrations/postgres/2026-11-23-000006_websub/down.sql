DROP TABLE websub_deliveries;
DROP TABLE websub_subscriptions;
