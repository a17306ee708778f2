# MySQL style comment; with semicolon
CREATE TABLE `order;s` (id INT, note VARCHAR(20) DEFAULT 'it\'s; ok');
INSERT INTO `order;s` VALUES (1, "dq \" ; string"), (2, 'a''b;c'); -- trailing
SELECT 1--1;
/*!40101 SET NAMES utf8mb4 */;
SELECT 'back\\'; SELECT 2 # done;
