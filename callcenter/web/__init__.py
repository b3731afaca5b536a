"""Flask blueprints: auth, admin, agent, api, live, freeswitch."""
