-- Usage thresholds (issue 6): requests counted per hour, so the rolling 24-hour window
-- survives a restart. `hour` is the hour's start in seconds since the Unix epoch. Requests
-- answered 401 are kept apart and never count toward the request limit.
CREATE TABLE usage_hours (
    hour          INTEGER PRIMARY KEY,
    requests      INTEGER NOT NULL,
    unauthorized  INTEGER NOT NULL
);
