// Helpers shared by the alerts, rules and dashboards of the mixin.
{
  // seconds('90s'), seconds('5m'), seconds('2h'), seconds('3d'): a
  // Prometheus duration of one unit in seconds.
  seconds(d)::
    local unit = d[std.length(d) - 1];
    local n = std.parseInt(d[0:std.length(d) - 1]);
    n * { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 }[unit],

  // human('15m') == '15 minutes', human('1h') == '1 hour': a duration of
  // one unit as the alert descriptions write it.
  human(d)::
    local unit = d[std.length(d) - 1];
    local n = std.parseInt(d[0:std.length(d) - 1]);
    local word = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week' }[unit];
    '%d %s%s' % [n, word, if n == 1 then '' else 's'],

  // Go template text of an alert description naming the database of the
  // alert's database_id: its name and account from
  // upstash_redis_database_info, else the id. With lookback, the info
  // series of the past `lookback` serves when the current one is gone.
  databaseName(lookback=null)::
    local query =
      if lookback == null
      then 'printf "upstash_redis_database_info{database_id=%q}" $labels.database_id'
      else 'printf "upstash_redis_database_info{database_id=%q} or last_over_time(upstash_redis_database_info{database_id=%q}[' + lookback + '])" $labels.database_id $labels.database_id';
    '{{ with ' + query + ' | query }}{{ . | first | label "database_name" }} (account {{ . | first | label "account" }}){{ else }}{{ $labels.database_id }}{{ end }}',
}
