-- Times to referral and to acknowledgement (measures 7 and 8) are kept at a resolution that falls
-- with their length: the second below an hour, the minute below a day, the hour below 100 days, the
-- day beyond (doxwatch_kit::rollup::duration_grain), so that a median reads a bounded number of
-- values however many records stand behind it. The stored ones are brought to it: the folded points
-- go back to pending at that resolution and their grains go; the service's fold builds them again
-- from the pending points, which reads count meanwhile.
UPDATE referral_figure_pending SET value = CASE
        WHEN ABS(value) < 3600000000 THEN value / 1000000 * 1000000
        WHEN ABS(value) < 86400000000 THEN value / 60000000 * 60000000
        WHEN ABS(value) < 8640000000000 THEN value / 3600000000 * 3600000000
        ELSE value / 86400000000 * 86400000000 END
    WHERE measure IN (7, 8);
INSERT INTO referral_figure_pending (business_time, record_time, agency, measure, value, n)
    SELECT business_time, record_time, agency, measure, CASE
        WHEN ABS(value) < 3600000000 THEN value / 1000000 * 1000000
        WHEN ABS(value) < 86400000000 THEN value / 60000000 * 60000000
        WHEN ABS(value) < 8640000000000 THEN value / 3600000000 * 3600000000
        ELSE value / 86400000000 * 86400000000 END, n
    FROM referral_figure_points WHERE measure IN (7, 8);
DELETE FROM referral_figure_points WHERE measure IN (7, 8);
DELETE FROM referral_figure_grains WHERE measure IN (7, 8);
