"""The link to FreeSWITCH: Event Socket parsing, connection and command building."""
