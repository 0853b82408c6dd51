DROP TABLE staff_test_recipients;
