DROP TABLE login_failures;
DROP TABLE staff_devices;
DROP TABLE staff_sessions;
