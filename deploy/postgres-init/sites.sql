-- Each site's own database, made once when compose's PostgreSQL starts on an empty volume.
CREATE DATABASE cityloop_370212 OWNER cityloop;
CREATE DATABASE cityloop_370202 OWNER cityloop;
CREATE DATABASE cityloop_370200 OWNER cityloop;
