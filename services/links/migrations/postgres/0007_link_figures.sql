-- The removal figures kept as sums, so that statistics as at T, recorded before R, cost the same
-- however long the history (see the links service's domain::rollups for the reasoning). Each
-- write that can change a figure adds, in its own transaction, the changes it makes as points
-- (business time, record time, platform, channel, measure, value, ±n), and adds them to the sums
-- per business day and record day and per business month and record month. A figure is the sums
-- of whole months before T's and R's months, the day sums of the rest of the whole days before
-- T's and R's days, and the points of those two days' edges. channel_id is the nil id for a link
-- of no channel.
CREATE TABLE link_figure_points (
    business_time  TIMESTAMPTZ NOT NULL,
    record_time    TIMESTAMPTZ NOT NULL,
    platform_id    UUID NOT NULL,
    channel_id     UUID NOT NULL,
    measure        BIGINT NOT NULL,
    value          BIGINT NOT NULL,
    n              BIGINT NOT NULL
);
CREATE INDEX link_figure_points_business ON link_figure_points (business_time, record_time);
CREATE INDEX link_figure_points_record ON link_figure_points (record_time, business_time);

CREATE TABLE link_figure_sums (
    business_day  BIGINT NOT NULL,
    record_day    BIGINT NOT NULL,
    platform_id   UUID NOT NULL,
    channel_id    UUID NOT NULL,
    measure       BIGINT NOT NULL,
    value         BIGINT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (business_day, record_day, platform_id, channel_id, measure, value)
);
-- The day sums recorded on a day, for the days of the month of the record time asked about.
CREATE INDEX link_figure_sums_record ON link_figure_sums (record_day, business_day);

-- The same sums per business month and record month (months counted from January of the year 0).
CREATE TABLE link_figure_month_sums (
    business_month  BIGINT NOT NULL,
    record_month    BIGINT NOT NULL,
    platform_id     UUID NOT NULL,
    channel_id      UUID NOT NULL,
    measure         BIGINT NOT NULL,
    value           BIGINT NOT NULL,
    n               BIGINT NOT NULL,
    PRIMARY KEY (business_month, record_month, platform_id, channel_id, measure, value)
);

-- The sums of a store migrated with links already in it are built once, by the service at its
-- start, from every link's rows (the computation is the service's, not SQL's); this row says
-- that is still to do, and the build deletes it in the same transaction.
CREATE TABLE link_figures_unbuilt (pending BIGINT PRIMARY KEY);
INSERT INTO link_figures_unbuilt (pending) VALUES (1);

-- The sightings a write at a record time may reorder (recorded at or after it), by a seek.
CREATE INDEX link_sightings_recorded ON link_sightings (link_id, record_time);
