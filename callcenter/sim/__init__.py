"""A FreeSWITCH simulator speaking the real Event Socket wire protocol."""
