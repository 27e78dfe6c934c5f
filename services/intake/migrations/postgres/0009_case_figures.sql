-- The intake figures kept as sums, so that statistics as at T, recorded before R, cost the same
-- however many cases there are (see doxwatch_kit::rollup for the reasoning). Each write that can
-- change a figure (a case recorded, a status change, a change of its data subjects) adds, in its
-- own transaction, the changes it makes as points (business time, record time, measure, value,
-- ±n), and adds them to the sums per business day and record day and per business month and
-- record month. A figure is the sums of whole months before T's and R's months, the day sums of
-- the rest of the whole days before T's and R's days, and the points of those two days' edges.
-- measure: 1 cases of kind `value`; 2 cases in status `value`; 3 cases of kind and victim group
-- (`value` = kind × 100 + group); 4 cases of kind naming a data subject of a category (`value` =
-- kind × 100 + category).
CREATE TABLE case_figure_points (
    business_time  TIMESTAMPTZ NOT NULL,
    record_time    TIMESTAMPTZ NOT NULL,
    measure        BIGINT NOT NULL,
    value          BIGINT NOT NULL,
    n              BIGINT NOT NULL
);
CREATE INDEX case_figure_points_business ON case_figure_points (business_time, record_time);
CREATE INDEX case_figure_points_record ON case_figure_points (record_time, business_time);

CREATE TABLE case_figure_sums (
    business_day  BIGINT NOT NULL,
    record_day    BIGINT NOT NULL,
    measure       BIGINT NOT NULL,
    value         BIGINT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (business_day, record_day, measure, value)
);
CREATE INDEX case_figure_sums_record ON case_figure_sums (record_day, business_day);

CREATE TABLE case_figure_month_sums (
    business_month  BIGINT NOT NULL,
    record_month    BIGINT NOT NULL,
    measure         BIGINT NOT NULL,
    value           BIGINT NOT NULL,
    n               BIGINT NOT NULL,
    PRIMARY KEY (business_month, record_month, measure, value)
);

-- The sums of a store migrated with cases already in it are built once, by the service at its
-- start, from every case's rows; this row says that is still to do, and the build deletes it in
-- the same transaction.
CREATE TABLE case_figures_unbuilt (pending BIGINT PRIMARY KEY);
INSERT INTO case_figures_unbuilt (pending) VALUES (1);
