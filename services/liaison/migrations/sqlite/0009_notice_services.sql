-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- The first and last moments of service of each kind on each platform, which the correspondence
-- figures give, are read from here: one row per notice served, written with its service, and two
-- index seeks per platform and kind, however many notices were served. They were kept before as
-- one figure value per notice served, which every read of the figures summed, so that the read
-- grew with the notices; those values go.
CREATE TABLE notice_services (
    notice_id    BLOB PRIMARY KEY REFERENCES notices (id),
    platform     TEXT NOT NULL,
    kind         INTEGER NOT NULL,
    served_at    TEXT NOT NULL,
    record_time  TEXT NOT NULL
);
CREATE INDEX notice_services_moments ON notice_services (platform, kind, served_at, record_time);

-- Every notice served so far: its SERVED event (kind 3) holds the moment and when it was recorded.
INSERT INTO notice_services (notice_id, platform, kind, served_at, record_time)
    SELECT e.notice_id, n.platform, n.kind, e.occurred_at, e.record_time
    FROM notice_events e JOIN notices n ON n.id = e.notice_id
    WHERE e.kind = 3;

-- The per-notice moments of service (measure 7) leave the figures.
DELETE FROM notice_figure_pending WHERE measure = 7;
DELETE FROM notice_figure_points WHERE measure = 7;
DELETE FROM notice_figure_grains WHERE measure = 7;
