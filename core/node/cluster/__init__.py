"""Several Message Nodes serving one domain on NATS (issue 15): `syncscope node --cluster`."""
