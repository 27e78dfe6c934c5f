-- The figures' sums move off the write path, and finer. A write appends its points to
-- link_figure_pending and touches no row that another write shares; the service's fold takes the
-- pending points in batches, keeps them in link_figure_points, and adds them to the sums per grain:
-- a business unit and a record unit, each the month, day, hour, minute, second or microsecond
-- (0 to 5), grain being the two digits, business first; the microsecond against itself is the
-- folded points. lead is the business period, except in the grains of a business month and a
-- finer record unit, where it is the record period: a read takes the few periods next to a moment
-- on one side against all the months before on the other, and the short range leads the key. The
-- day and month sums go: the grains hold them (00 and 11).
--
-- The points already kept become pending, so that the fold builds every grain from them. The
-- folded points are kept summed per exact business time, record time and key (one write's
-- points share a record time, and many share a business time), which the edges of a read take.
CREATE TABLE link_figure_pending (
    business_time  TIMESTAMPTZ NOT NULL,
    record_time    TIMESTAMPTZ NOT NULL,
    platform_id    UUID NOT NULL,
    channel_id     UUID NOT NULL,
    measure        BIGINT NOT NULL,
    value          BIGINT NOT NULL,
    n              BIGINT NOT NULL
);
INSERT INTO link_figure_pending (business_time, record_time, platform_id, channel_id, measure, value, n)
    SELECT business_time, record_time, platform_id, channel_id, measure, value, n FROM link_figure_points;
DROP TABLE link_figure_points;
CREATE TABLE link_figure_points (
    business_time  TIMESTAMPTZ NOT NULL,
    record_time    TIMESTAMPTZ NOT NULL,
    platform_id    UUID NOT NULL,
    channel_id     UUID NOT NULL,
    measure        BIGINT NOT NULL,
    value          BIGINT NOT NULL,
    n              BIGINT NOT NULL,
    PRIMARY KEY (business_time, record_time, platform_id, channel_id, measure, value)
);
CREATE INDEX link_figure_points_record ON link_figure_points (record_time, business_time);
DROP TABLE link_figure_sums;
DROP TABLE link_figure_month_sums;

CREATE TABLE link_figure_grains (
    grain          BIGINT NOT NULL,
    lead           BIGINT NOT NULL,
    trail          BIGINT NOT NULL,
    platform_id    UUID NOT NULL,
    channel_id     UUID NOT NULL,
    measure        BIGINT NOT NULL,
    value          BIGINT NOT NULL,
    n              BIGINT NOT NULL,
    PRIMARY KEY (grain, lead, trail, platform_id, channel_id, measure, value)
);
