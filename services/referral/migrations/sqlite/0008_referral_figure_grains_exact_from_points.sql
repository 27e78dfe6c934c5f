-- SQLite form of the PostgreSQL migration of the same name.
-- The figures' grains with a microsecond on either side go: a read takes a block of microseconds
-- from the folded points, which hold the same sums per exact moment, and the fold no longer writes
-- them. A grain's first digit is its business unit and its second its record unit; 5 is the
-- microsecond.
DELETE FROM referral_figure_grains WHERE grain / 10 = 5 OR grain % 10 = 5;
