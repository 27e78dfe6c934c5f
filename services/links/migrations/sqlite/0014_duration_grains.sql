-- SQLite form of the PostgreSQL migration of the same name.
-- Times to removal (measure 6) are kept at a resolution that falls with their length: the second
-- below an hour, the minute below a day, the hour below 100 days, the day beyond
-- (doxwatch_kit::rollup::duration_grain), so that a median reads a bounded number of values
-- however many records stand behind it. The stored ones are brought to it: the folded points go
-- back to pending at that resolution and their grains go; the service's fold builds them again from
-- the pending points, which reads count meanwhile.
UPDATE link_figure_pending SET value = CASE
        WHEN ABS(value) < 3600000000 THEN value / 1000000 * 1000000
        WHEN ABS(value) < 86400000000 THEN value / 60000000 * 60000000
        WHEN ABS(value) < 8640000000000 THEN value / 3600000000 * 3600000000
        ELSE value / 86400000000 * 86400000000 END
    WHERE measure = 6;
INSERT INTO link_figure_pending (business_time, record_time, platform_id, channel_id, measure, value, n)
    SELECT business_time, record_time, platform_id, channel_id, measure, CASE
        WHEN ABS(value) < 3600000000 THEN value / 1000000 * 1000000
        WHEN ABS(value) < 86400000000 THEN value / 60000000 * 60000000
        WHEN ABS(value) < 8640000000000 THEN value / 3600000000 * 3600000000
        ELSE value / 86400000000 * 86400000000 END, n
    FROM link_figure_points WHERE measure = 6;
DELETE FROM link_figure_points WHERE measure = 6;
DELETE FROM link_figure_grains WHERE measure = 6;
