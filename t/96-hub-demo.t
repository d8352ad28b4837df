#!/usr/bin/perl
# dashcgi demo-data --incidents (SPEC §8, §10): the incident hub's demo
# history -- rules of every type, open and resolved incidents with
# their timelines, notifications delivered and failed, the last hour's
# events -- is what the command says it made, hangs together (times in
# order, every notification attempted and none left for the evaluator
# to send), comes out the same for the same --seed and --at and
# otherwise for another seed, and replaces itself when run again.
use strict;
use warnings;
use Test::More;
use POSIX qw(strftime);
use DashTest;

# No evaluator: nothing changes the history while it is looked at.
my $t = DashTest->new(workers => 1, config => { hub => { evaluators => 0 } });

my $AT = strftime('%Y-%m-%dT%H:%M:00Z', gmtime(time - 120));
sub demo {
	my ($seed) = @_;
	my ($rc, $out, $err) = $t->run_dashcgi({ timeout => 300 }, 'demo-data', '--project', 'demo',
	    '--slos', 12, '--days', 3, '--seed', $seed, '--at', $AT, '--incidents');
	is($rc, 0, "demo-data --incidents --seed $seed exits 0") or diag $err;
	return $out;
}
sub sql { $t->psql($_[0]) }

# Everything the history holds, but the uuids.
my $PRINT = <<'SQL';
SELECT k || ':' || md5(string_agg(x, '|' ORDER BY x)) FROM (
  SELECT concat_ws(',', i.title, i.severity, i.status, i.source, i.dedup_key, i.count, i.first_seen,
	   i.last_seen, i.resolved_at, i.metadata::text, i.version, i.rule) AS x, 'incidents' AS k
    FROM incident i WHERE i.project = 'demo'
  UNION ALL SELECT concat_ws(',', i.dedup_key, i.first_seen,
	   (SELECT string_agg(concat_ws(':', t.at, regexp_replace(t.actor, '[0-9a-f-]{36}', 'K'),
		t.from_status, t.to_status, t.note), ';' ORDER BY t.id)
	      FROM incident_timeline t WHERE t.incident_id = i.id)), 'timelines'
    FROM incident i WHERE i.project = 'demo'
  UNION ALL SELECT concat_ws(',', i.dedup_key, i.first_seen,
	   (SELECT string_agg(concat_ws(':', n.channel, n.event, n.status, n.attempts, n.created_at,
		n.sent_at, n.last_error, n.history::text), ';' ORDER BY n.created_at, n.channel, n.event)
	      FROM alert_notification n WHERE n.incident_id = i.id)), 'notifications'
    FROM incident i WHERE i.project = 'demo'
  UNION ALL SELECT name || spec::text || created_at, 'rules' FROM alert_rule WHERE project = 'demo'
  UNION ALL SELECT name || type || url || all_incidents, 'channels' FROM hub_channel WHERE project = 'demo'
  UNION ALL SELECT concat_ws('/', window_key, metric_type, window_start, count, sum, min, max), 'metrics'
    FROM metrics_agg WHERE project = 'demo') s GROUP BY k ORDER BY k
SQL

my ($print1, %said);
subtest 'it makes what it says' => sub {
	my $out = demo(7);
	@said{qw(rules types incidents statuses timeline notifications nstatuses events)} = $out =~
	    /^demo-data: incidents: (\d+) rules \(([^)]*)\), (\d+) incidents \(([^)]*)\), (\d+) timeline entries, (\d+) notifications \(([^)]*)\), (\d+) events$/m;
	ok(defined $said{events}, 'it prints what it made') or diag $out;
	note $out;
	my %types = $said{types} =~ /(\w+)=(\d+)/g;
	my %st = $said{statuses} =~ /(\w+)=(\d+)/g;
	my %ns = $said{nstatuses} =~ /(\w+)=(\d+)/g;
	is(sql("SELECT count(*) FROM alert_rule WHERE project = 'demo'"), $said{rules}, "$said{rules} rules");
	for my $ty (qw(threshold slo_burn monitor_down)) {
		cmp_ok($types{$ty} // 0, '>=', 1, "rules of type $ty: " . ($types{$ty} // 0));
		is(sql("SELECT count(*) FROM alert_rule WHERE project = 'demo' AND spec ->> 'type' = '$ty'"),
		    $types{$ty} // 0, "as many $ty rules as it says");
	}
	is($said{incidents}, 24, '24 incidents');
	is_deeply(\%st, { map { split /\|/ } split /\n/, sql("SELECT status || '|' || count(*) FROM incident "
	    . "WHERE project = 'demo' GROUP BY status") }, "incidents per status: $said{statuses}");
	ok(($st{open} // 0) >= 1 && ($st{investigating} // 0) >= 1 && ($st{resolved} // 0) >= 1
	    && ($st{closed} // 0) >= 1, 'open, investigating, resolved and closed ones');
	is(sql("SELECT count(*) FROM incident_timeline WHERE project = 'demo'"), $said{timeline},
	    "$said{timeline} timeline entries");
	is(sql("SELECT count(*) FROM alert_notification WHERE project = 'demo'"), $said{notifications},
	    "$said{notifications} notifications");
	ok(($ns{sent} // 0) >= 1 && ($ns{failed} // 0) >= 1 && !$ns{pending},
	    "delivered and failed, none pending: $said{nstatuses}");
	is(sql("SELECT count(*) FROM raw_event WHERE project = 'demo'"), $said{events}, "$said{events} events");
	cmp_ok($said{events}, '>', 0, 'events of the last hour');
	is(sql("SELECT count(DISTINCT source) FROM incident WHERE project = 'demo'"), 6,
	    'from rules, a monitor, PagerDuty, Alertmanager, the API and a certificate checker');
	is(sql("SELECT count(*) FROM incident WHERE project = 'demo' AND rule IS NOT NULL AND rule NOT IN "
	    . "(SELECT name FROM alert_rule WHERE project = 'demo')"), 0, 'every rule incident names a rule');
	is(sql("SELECT count(*) FROM integration_key WHERE project = 'demo'"), 1, 'the integration key they came in with');
};

subtest 'the history hangs together' => sub {
	# The data ends at the 5-minute step after --at.
	my $END = "'$AT'::timestamptz + interval '5 minutes'";
	is(sql(<<"SQL"), 0, 'each timeline starts with open at firstSeen, runs forward and ends with the status');
SELECT count(*) FROM incident i WHERE i.project = 'demo' AND NOT (
  (SELECT to_status = 'open' AND at = i.first_seen FROM incident_timeline t WHERE t.incident_id = i.id ORDER BY id LIMIT 1)
  AND (SELECT bool_and(at <= $END) AND count(*) = i.version
       FROM incident_timeline t WHERE t.incident_id = i.id)
  AND (SELECT to_status FROM incident_timeline t WHERE t.incident_id = i.id ORDER BY id DESC LIMIT 1) = i.status
  AND NOT EXISTS (SELECT 1 FROM incident_timeline a JOIN incident_timeline b ON b.incident_id = a.incident_id
	AND b.id > a.id AND b.at < a.at WHERE a.incident_id = i.id))
SQL
	is(sql("SELECT count(*) FROM incident WHERE project = 'demo' AND (status IN ('resolved', 'closed')) "
	    . "<> (resolved_at IS NOT NULL)"), 0, 'resolvedAt where resolved');
	is(sql("SELECT count(*) FROM incident WHERE project = 'demo' AND last_seen < first_seen"), 0, 'lastSeen after firstSeen');
	is(sql(<<'SQL'), 0, 'one notification per event and channel, at the time of the event');
SELECT count(*) FROM alert_notification n JOIN incident i ON i.id = n.incident_id
 WHERE i.project = 'demo' AND NOT EXISTS (SELECT 1 FROM incident_timeline t
	WHERE t.incident_id = i.id AND t.at = n.created_at
	  AND t.to_status = CASE n.event WHEN 'resolve' THEN 'resolved' ELSE 'open' END)
SQL
	is(sql("SELECT count(*) FROM alert_notification WHERE project = 'demo' AND (jsonb_array_length(history) <> attempts "
	    . "OR (status = 'sent') <> (sent_at IS NOT NULL) OR (history -> -1 ->> 'ok')::boolean <> (status = 'sent'))"),
	    0, 'every attempt in the history; the last one says how it ended');
	cmp_ok(sql("SELECT count(*) FROM alert_notification WHERE project = 'demo' AND event = 'reopen'"), '>=', 1,
	    'a reopened incident was notified again');
	my $id = sql("SELECT id FROM incident WHERE project = 'demo' AND status = 'closed' ORDER BY first_seen LIMIT 1");
	sql("INSERT INTO project_member (project, user_name, role, created_by, updated_by) "
	    . "VALUES ('demo', 'bob', 'viewer', 't', 't')");
	my $r = $t->request(GET => "/api/v1/projects/demo/incidents/$id", user => 'bob');
	is($r->{status}, 200, 'a closed incident through the API');
	my $doc = $t->json($r) // {};
	is(($doc->{timeline} // [{}])->[-1]{to}, 'closed', 'its timeline ends closed');
	cmp_ok(scalar @{ $doc->{notifications} // [] }, '>=', 2, 'its notifications: opened and resolved');
};

subtest 'the same seed and end: the same history; another seed: another' => sub {
	$print1 = sql($PRINT);
	demo(7);
	is(sql($PRINT), $print1, 'run again with --seed 7: the same history, replaced (not added to)');
	is(sql("SELECT count(*) FROM incident WHERE project = 'demo'"), 24, 'still 24 incidents');
	demo(8);
	isnt(sql($PRINT), $print1, '--seed 8: another history');
};

done_testing;
