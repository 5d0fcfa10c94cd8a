"""`cityloop-simulate`: a working day of a city's traffic, fed to running sites over HTTP.

Reports come from every channel following the day's rhythm (:mod:`.rhythm`); what each case
will meet on its way, its detours, is drawn from a seeded plan (:mod:`.plan`); the people of
each desk act on it after a realistic delay (:mod:`.actors`) through the services' APIs as any
client would (:mod:`.desks`). The run doubles as a soak test (:mod:`.cli`): every case it
started must end in a state it can explain, and no request may get a 5xx.
"""
