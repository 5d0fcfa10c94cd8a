"""The fault drill: a whole site under steady load while its parts fail one after another.

Every workflow service of one site runs as its own process against a Kafka broker and a
PostgreSQL server of the drill's own (:mod:`cityloop_deploy.isolated`). The site's people
file reports and take each case from report to close over HTTP, as clients on a bad network
do: a command is sent again with the same ``Idempotency-Key`` after a 503 (waiting as its
``Retry-After`` says) or after a connection that failed. Meanwhile the broker is stopped,
then the database, then each service in turn is killed with SIGKILL and started again
(:mod:`.faults`). Every answer is kept (:mod:`.load`); afterwards the services' own books and
the topics are read (:mod:`.books`): every command accepted is in its service's journal and on
its topic, every service has applied every event it follows exactly once, and every case's
chain is whole.
"""
