DROP TABLE museum_items;
DROP TABLE exhibitions;
