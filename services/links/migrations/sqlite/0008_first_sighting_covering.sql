-- Version 8: a link's first sighting recorded before a moment, by a seek. The figures' rollups ask
-- "the earliest sighting of this link recorded before T" on every write; with (link_id, seen_at)
-- alone, SQLite's planner preferred the (link_id, record_time) index and sorted every sighting of
-- the link, so a write to a link cited by many cases cost as much as its history. With the record
-- time in this index, the first entry in seen_at order whose record time qualifies is read from
-- the index itself.
DROP INDEX link_sightings_first;
CREATE INDEX link_sightings_first ON link_sightings (link_id, seen_at, record_time);
