-- The figures' sums gain a record unit that is every time at once (6 in a grain's second digit, trail
-- always 0): a business unit's sums whenever recorded. A read cut at a recent moment takes them
-- less what was recorded after the cut, instead of everything recorded before it period by period.
-- They are the sums against the record month (0) added over the record months, so the folded
-- points give them here; the fold keeps them from now on.
INSERT INTO case_figure_grains (grain, lead, trail, measure, value, n)
    SELECT grain + 6, lead, 0, measure, value, SUM(n)
    FROM case_figure_grains
    WHERE grain % 10 = 0
    GROUP BY grain, lead, measure, value
    HAVING SUM(n) <> 0;
