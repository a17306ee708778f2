/* outer /* inner; */ still a comment; */
SELECT 1;
SELECT /* a /* b */ c; */ 2;
/*/ odd opener; */ SELECT 3;
SELECT 4; /* unfinished? /* no: */ closed; */
