-- just a note; nothing else
/* and a block; comment */
