#!/usr/bin/perl
# Ingest formats of the hub (SPEC §10): integration keys (dik_…, made by
# project admins, shown once, only their SHA-256 stored, revocable),
# PagerDuty Events API v2 at POST /v2/enqueue (trigger, acknowledge,
# resolve by dedup_key, no login) and the Alertmanager webhook v4
# (firing triggers, resolved resolves, dedup key = fingerprint), with
# payloads shaped as their documentation shows them.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(sha256_hex);
use DashTest;

my $t = DashTest->new(workers => 2, config => { hub => { evaluators => 0 } });

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('p1', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'carol', 'editor', 't', 't'), ('p1', 'bob', 'viewer', 't', 't'),
           ('p1', 'dave', 'admin', 't', 't');
SQL

my $K = '/api/v1/projects/p1/integrations';
my $key;
subtest 'integration keys: admins create, the key is shown once and stored hashed' => sub {
	my $r = $t->request(POST => $K, user => 'carol', json => { name => 'x' });
	is($r->{status}, 403, 'an editor cannot create one');
	is($t->request(GET => $K, user => 'carol')->{status}, 403, 'nor list them');
	$r = $t->request(POST => $K, user => 'dave', json => {});
	is($r->{status}, 400, 'without a name: 400');
	like($t->json($r)->{message}, qr/^name: required/, 'names the field');
	$r = $t->request(POST => $K, user => 'dave', json => { name => 'prometheus' });
	is($r->{status}, 201, 'an admin creates one') or diag $r->{content};
	my $j = $t->json($r);
	$key = $j->{key};
	like($key, qr/^dik_[A-Za-z0-9_-]{43}$/, 'dik_ and 43 base64url characters');
	is($t->header($r, 'Cache-Control'), 'no-store', 'not cached');
	is($t->psql("SELECT count(*) FROM integration_key WHERE key_hash = sha256(convert_to('$key', 'UTF8'))"),
	    1, 'its SHA-256 is stored');
	my $dump = $t->psql("SELECT row_to_json(k)::text FROM integration_key k");
	unlike($dump, qr/\Q$key\E/, 'the key itself is in no column');
	unlike($dump, qr/\Q@{[ substr($key, 4) ]}\E/, 'nor its random part');
	my $list = $t->json($t->request(GET => $K, user => 'dave'));
	is(scalar @$list, 1, 'listed');
	ok(!exists $list->[0]{key}, 'without the key');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'integration.create' AND details::text LIKE '%dik_%'"),
	    0, 'the audit row does not hold it');
};

sub pd {
	my ($body) = @_;
	return $t->request(POST => '/v2/enqueue', json => $body);
}

# The trigger body as PagerDuty documents it.
sub pd_trigger {
	my (%o) = @_;
	return { routing_key => $o{key} // $key, event_action => 'trigger',
	    (defined $o{dedup} ? (dedup_key => $o{dedup}) : ()),
	    payload => { summary => $o{summary} // 'Example alert on host1.example.com',
		timestamp => '2015-07-17T08:42:58.315+0000', source => 'monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003',
		severity => $o{severity} // 'info', component => 'postgres', group => 'prod-datapipe',
		class => 'deploy', custom_details => { 'ping time' => '1500ms', 'load avg' => 0.75 } },
	    client => 'Sample Monitoring Service', client_url => 'https://monitoring.service.com',
	    links => [ { href => 'http://pagerduty.example.com', text => 'An example link.' } ] };
}

subtest 'PagerDuty v2: trigger, dedup, acknowledge, resolve' => sub {
	my $r = pd(pd_trigger(dedup => 'srv01/HTTP', severity => 'critical'));
	is($r->{status}, 202, 'trigger: 202') or diag $r->{content};
	my $j = $t->json($r);
	is_deeply($j, { status => 'success', message => 'Event processed', dedup_key => 'srv01/HTTP' },
	    'PagerDuty\'s answer');
	my $row = $t->psql("SELECT status || '|' || severity || '|' || count || '|' || source || '|' || created_by "
	    . "FROM incident WHERE dedup_key = 'srv01/HTTP'");
	like($row, qr{^open\|critical\|1\|monitoringtool:[^|]+\|integration:[0-9a-f-]{36}$}, 'an open critical incident');
	is(pd(pd_trigger(dedup => 'srv01/HTTP'))->{status}, 202, 'again: 202');
	is($t->psql("SELECT count FROM incident WHERE dedup_key = 'srv01/HTTP'"), 2, 'counted, not duplicated');
	is($t->psql("SELECT metadata #>> '{payload,custom_details,load avg}' FROM incident WHERE dedup_key = 'srv01/HTTP'"),
	    '0.75', 'custom details kept in metadata');

	$r = pd({ routing_key => $key, event_action => 'acknowledge', dedup_key => 'srv01/HTTP' });
	is($r->{status}, 202, 'acknowledge: 202');
	is($t->psql("SELECT status FROM incident WHERE dedup_key = 'srv01/HTTP'"), 'investigating',
	    'acknowledge = investigating');
	$r = pd({ routing_key => $key, event_action => 'resolve', dedup_key => 'srv01/HTTP' });
	is($r->{status}, 202, 'resolve: 202');
	is($t->psql("SELECT status FROM incident WHERE dedup_key = 'srv01/HTTP'"), 'resolved', 'resolved');
	is($t->psql("SELECT string_agg(t.to_status, ',' ORDER BY t.id) FROM incident_timeline t "
	    . "JOIN incident i ON i.id = t.incident_id WHERE i.dedup_key = 'srv01/HTTP'"),
	    'open,investigating,resolved', 'the timeline');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'incident.enqueue' AND actor LIKE 'integration:%'"),
	    4, 'an audit row per event, the integration as actor');

	$r = pd(pd_trigger(dedup => 'srv01/HTTP'));
	is($r->{status}, 202, 'a trigger after resolve');
	is($t->psql("SELECT count(*) FROM incident WHERE dedup_key = 'srv01/HTTP'"), 2, 'opens a new incident');
	$r = pd(pd_trigger());
	like($t->json($r)->{dedup_key}, qr/^[0-9a-f-]{36}$/, 'without dedup_key: one is made and returned');
	$r = pd({ routing_key => $key, event_action => 'resolve', dedup_key => 'never-seen' });
	is($r->{status}, 202, 'resolving an unknown key is accepted (as PagerDuty does)');
};

# POST /v2/enqueue is one statement, its own transaction (R_ONE_STMT,
# migrations/0025): the incident change, its timeline, its
# notifications and its audit row commit together or not at all.
subtest 'PagerDuty v2: one transaction, exact under concurrency' => sub {
	$t->psql("INSERT INTO hub_channel (project, name, type, url, created_by, updated_by) "
	    . "VALUES ('p1', 'pd-ops', 'webhook', 'http://127.0.0.1:9/pd', 't', 't')");
	my $a0 = $t->psql("SELECT count(*) FROM audit_log WHERE action = 'incident.enqueue'");
	my @pids;
	for my $i (1 .. 50) {
		push @pids, $t->bg(sub {
			return pd(pd_trigger(dedup => 'pd-storm', summary => "storm $i"))->{status} == 202 ? 0 : 1;
		});
	}
	my $fails = 0;
	$fails += $t->wait_pid($_, 60) // 1 for @pids;
	is($fails, 0, '50 concurrent triggers of one key: all 202');
	is($t->psql("SELECT count(*) || '/' || max(count) FROM incident WHERE dedup_key = 'pd-storm'"),
	    '1/50', 'one incident, count 50');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'incident.enqueue'") - $a0, 50,
	    'fifty audit rows');
	is($t->psql("SELECT string_agg(t.to_status, ',') FROM incident_timeline t "
	    . "JOIN incident i ON i.id = t.incident_id WHERE i.dedup_key = 'pd-storm'"),
	    'open', 'one timeline entry: the repeats are counted, not transitions');
	is($t->psql("SELECT string_agg(n.channel || ':' || n.event, ',') FROM alert_notification n "
	    . "JOIN incident i ON i.id = n.incident_id WHERE i.dedup_key = 'pd-storm'"),
	    'pd-ops:open', 'one notification, enqueued with the opening');
	my $inc = $t->psql("SELECT id FROM incident WHERE dedup_key = 'pd-storm'");
	is($t->psql("SELECT count(*) FILTER (WHERE resource = '$inc' AND result = 'success' "
	    . "AND details ->> 'action' = 'trigger') || '/' || count(*) FILTER (WHERE details ->> "
	    . "'deduplicated' = 'false') FROM audit_log WHERE action = 'incident.enqueue' AND resource = '$inc'"),
	    '50/1', 'each row names the incident; one says it opened it');

	# An audit row that cannot be written takes the change with it.
	$t->psql(<<'SQL');
CREATE FUNCTION pg_temp_t92_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.action = 'incident.enqueue' THEN
		RAISE EXCEPTION 't92: no audit row';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER t92_refuse BEFORE INSERT ON audit_log
	FOR EACH ROW EXECUTE FUNCTION pg_temp_t92_refuse();
SQL
	my $r = pd(pd_trigger(dedup => 'pd-storm'));
	isnt($r->{status}, 202, 'the audit insert failed: not accepted') or diag $r->{content};
	$r = pd(pd_trigger(dedup => 'pd-atomic'));
	isnt($r->{status}, 202, 'a new incident neither');
	$r = pd({ routing_key => $key, event_action => 'acknowledge', dedup_key => 'pd-storm' });
	isnt($r->{status}, 202, 'nor a transition');
	$t->psql("DROP TRIGGER t92_refuse ON audit_log; DROP FUNCTION pg_temp_t92_refuse()");
	is($t->psql("SELECT status || '/' || count FROM incident WHERE dedup_key = 'pd-storm'"),
	    'open/50', 'the count and the status are as they were');
	is($t->psql("SELECT count(*) FROM incident WHERE dedup_key = 'pd-atomic'"), 0,
	    'no incident opened without its audit row');
	is($t->psql("SELECT count(*) FROM alert_notification n JOIN incident i ON i.id = n.incident_id "
	    . "WHERE i.dedup_key IN ('pd-storm', 'pd-atomic')"), 1, 'no notification either');
	is(pd(pd_trigger(dedup => 'pd-storm'))->{status}, 202, 'with the audit log back: 202');
	is($t->psql("SELECT count FROM incident WHERE dedup_key = 'pd-storm'"), 51, 'counted');
	$t->psql("DELETE FROM hub_channel WHERE name = 'pd-ops'");
};

subtest 'PagerDuty v2: refusals' => sub {
	my @bad = (
		[ { event_action => 'trigger' }, qr/routing_key: required/ ],
		[ { %{ pd_trigger() }, event_action => 'snooze' }, qr/event_action/ ],
		[ { routing_key => $key, event_action => 'resolve' }, qr/dedup_key: required/ ],
		[ { %{ pd_trigger() }, payload => { source => 's', severity => 'info' } }, qr/payload.summary/ ],
		[ { %{ pd_trigger() }, payload => { summary => 's', severity => 'info' } }, qr/payload.source/ ],
		[ pd_trigger(severity => 'fatal'), qr/payload.severity/ ],
		[ pd_trigger(key => 'dik_' . ('A' x 43)), qr/not a valid integration key/ ],
		[ pd_trigger(key => 'R0UT1NGK3Y'), qr/not a valid integration key/ ],
	);
	for my $b (@bad) {
		my $r = pd($b->[0]);
		is($r->{status}, 400, 'answered 400');
		my $j = $t->json($r);
		like($j->{message}, $b->[1], "says $b->[1]");
		is(ref $j->{errors}, 'ARRAY', 'with PagerDuty\'s errors array');
	}
	my $id = $t->json($t->request(GET => $K, user => 'dave'))->[0]{id};
	is($t->request(DELETE => "$K/$id", user => 'dave')->{status}, 204, 'revoked');
	is(pd(pd_trigger())->{status}, 400, 'a revoked key is refused');
	is($t->request(DELETE => "$K/00000000-0000-0000-0000-000000000000", user => 'dave')->{status}, 404,
	    'revoking an unknown key: 404');
	unlike($t->log, qr/\Q$key\E/, 'the key is never in the log');
};

my $AM = '/api/v1/projects/p1/alertmanager';
# A version-4 payload as Alertmanager documents it.
sub am {
	my ($status, @alerts) = @_;
	return { receiver => 'dashcgi', status => $status, alerts => [ map { {
	    status => $_->[1], labels => { alertname => 'ProbeFailure', instance => 'https://server.example.org',
		job => 'http_checks', severity => $_->[2] // 'critical' },
	    annotations => { description => 'Instance has been down for over 5m', summary => "BlackBox Probe Failure $_->[0]" },
	    startsAt => '2023-02-06T13:08:45.828Z', endsAt => '0001-01-01T00:00:00Z',
	    generatorURL => 'http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0',
	    fingerprint => $_->[0] } } @alerts ],
	    groupLabels => { alertname => 'ProbeFailure' }, commonLabels => { alertname => 'ProbeFailure' },
	    commonAnnotations => {}, externalURL => 'http://prometheus.example.org:9093', version => '4',
	    groupKey => '{}/{severity="critical"}:{alertname="ProbeFailure"}', truncatedAlerts => 0 };
}

subtest 'Alertmanager v4: firing triggers, resolved resolves, fingerprint is the key' => sub {
	my $r = $t->request(POST => $AM, user => 'carol',
	    json => am('firing', [ '1a30ba71cca2921f', 'firing' ], [ 'bc97ff14869b13e3', 'firing', 'warning' ]));
	is($r->{status}, 202, 'answered 202') or diag $r->{content};
	is_deeply($t->json($r), { alerts => 2, opened => 2, deduplicated => 0, resolved => 0 }, 'two opened');
	is($t->psql("SELECT string_agg(dedup_key || ':' || severity || ':' || source, ',' ORDER BY dedup_key) FROM incident WHERE source = 'alertmanager'"),
	    '1a30ba71cca2921f:critical:alertmanager,bc97ff14869b13e3:medium:alertmanager', 'fingerprints as keys, severities mapped');
	is($t->psql("SELECT title FROM incident WHERE dedup_key = '1a30ba71cca2921f'"),
	    'BlackBox Probe Failure 1a30ba71cca2921f', 'the summary annotation is the title');
	$r = $t->request(POST => $AM, user => 'carol',
	    json => am('resolved', [ '1a30ba71cca2921f', 'resolved' ], [ 'bc97ff14869b13e3', 'firing', 'warning' ]));
	is_deeply($t->json($r), { alerts => 2, opened => 0, deduplicated => 1, resolved => 1 },
	    'one resolved, one still firing (counted)');
	is($t->psql("SELECT status FROM incident WHERE dedup_key = '1a30ba71cca2921f'"), 'resolved', 'resolved');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'incident.alertmanager'"), 2, 'one audit row per webhook');
	my @bad = (
		[ { %{ am('firing') }, version => '3' }, qr/^version/ ],
		[ { %{ am('firing') }, alerts => {} }, qr/^alerts: required/ ],
		[ am('firing', [ '', 'firing' ]), qr/^alerts\[0\]\.fingerprint/ ],
		[ am('firing', [ 'f', 'pending' ]), qr/^alerts\[0\]\.status/ ],
	);
	for my $b (@bad) {
		$r = $t->request(POST => $AM, user => 'carol', json => $b->[0]);
		is($r->{status}, 400, 'answered 400');
		like($t->json($r)->{message}, $b->[1], "names the field");
	}
	is($t->request(POST => $AM, user => 'bob', json => am('firing'))->{status}, 403, 'a viewer cannot post');
};

done_testing;
