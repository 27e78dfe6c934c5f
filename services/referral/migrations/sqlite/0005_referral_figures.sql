-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- The referral figures kept as sums, so that statistics as at T, recorded before R, cost the same
-- however many cases were assessed and referred (see doxwatch_kit::rollup for the reasoning).
-- Each write that can change a figure (an assessment, a referral, a step of a referral's
-- timeline) adds, in its own transaction, the changes it makes to its case's figures as points
-- (business time, record time, agency, measure, value, ±n), and adds them to the sums per business
-- day and record day and per business month and record month. `agency` is an id made from the
-- agency's name, the nil id for the total. The measures are the referral service's
-- domain::rollups::Measure.
CREATE TABLE referral_figure_points (
    business_time  TEXT NOT NULL,
    record_time    TEXT NOT NULL,
    agency         BLOB NOT NULL,
    measure        INTEGER NOT NULL,
    value          INTEGER NOT NULL,
    n              INTEGER NOT NULL
);
CREATE INDEX referral_figure_points_business ON referral_figure_points (business_time, record_time);
CREATE INDEX referral_figure_points_record ON referral_figure_points (record_time, business_time);

CREATE TABLE referral_figure_sums (
    business_day  INTEGER NOT NULL,
    record_day    INTEGER NOT NULL,
    agency        BLOB NOT NULL,
    measure       INTEGER NOT NULL,
    value         INTEGER NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (business_day, record_day, agency, measure, value)
);
CREATE INDEX referral_figure_sums_record ON referral_figure_sums (record_day, business_day);

CREATE TABLE referral_figure_month_sums (
    business_month  INTEGER NOT NULL,
    record_month    INTEGER NOT NULL,
    agency          BLOB NOT NULL,
    measure         INTEGER NOT NULL,
    value           INTEGER NOT NULL,
    n               INTEGER NOT NULL,
    PRIMARY KEY (business_month, record_month, agency, measure, value)
);

-- The sums of a store migrated with cases already in it are built once, by the service at its
-- start, from every case's rows; this row says that is still to do, and the build deletes it in the
-- same transaction.
CREATE TABLE referral_figures_unbuilt (pending INTEGER PRIMARY KEY);
INSERT INTO referral_figures_unbuilt (pending) VALUES (1);
