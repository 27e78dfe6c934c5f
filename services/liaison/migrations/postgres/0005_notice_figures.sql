-- The correspondence figures kept as sums, so that statistics as at T, recorded before R, cost the
-- same however many notices there are (see doxwatch_kit::rollup for the reasoning). Each write
-- that can change a figure (a notice drafted, changed, served, answered or closed) adds, in its
-- own transaction, the changes it makes as points (business time, record time, platform, measure,
-- value, ±n), and adds them to the sums per business day and record day and per business month
-- and record month. The measures are the liaison service's domain::rollups::Measure.
CREATE TABLE notice_figure_points (
    business_time  TIMESTAMPTZ NOT NULL,
    record_time    TIMESTAMPTZ NOT NULL,
    platform       UUID NOT NULL,
    measure        BIGINT NOT NULL,
    value          BIGINT NOT NULL,
    n              BIGINT NOT NULL
);
CREATE INDEX notice_figure_points_business ON notice_figure_points (business_time, record_time);
CREATE INDEX notice_figure_points_record ON notice_figure_points (record_time, business_time);

CREATE TABLE notice_figure_sums (
    business_day  BIGINT NOT NULL,
    record_day    BIGINT NOT NULL,
    platform      UUID NOT NULL,
    measure       BIGINT NOT NULL,
    value         BIGINT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (business_day, record_day, platform, measure, value)
);
CREATE INDEX notice_figure_sums_record ON notice_figure_sums (record_day, business_day);

CREATE TABLE notice_figure_month_sums (
    business_month  BIGINT NOT NULL,
    record_month    BIGINT NOT NULL,
    platform        UUID NOT NULL,
    measure         BIGINT NOT NULL,
    value           BIGINT NOT NULL,
    n               BIGINT NOT NULL,
    PRIMARY KEY (business_month, record_month, platform, measure, value)
);

-- The sums of a store migrated with notices already in it are built once, by the service at its
-- start, from every notice; this row says that is still to do, and the build deletes it in the
-- same transaction.
CREATE TABLE notice_figures_unbuilt (pending BIGINT PRIMARY KEY);
INSERT INTO notice_figures_unbuilt (pending) VALUES (1);
