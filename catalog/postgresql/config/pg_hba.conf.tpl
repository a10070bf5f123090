# TYPE  DATABASE  USER  ADDRESS                          METHOD
local   all       all                                    peer
host    all       all   127.0.0.1/32                     scram-sha-256
host    all       all   ${{ vars.POSTGRES_ALLOWED_CIDR }}   scram-sha-256
