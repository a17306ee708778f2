-- nothing to do here;
/* really; nothing
   /* nested */ */

-- still nothing
