DROP INDEX museum_items_exhibition;
DROP INDEX museum_items_letter;
DROP INDEX letters_status_sent;
DROP INDEX letters_recipient;
