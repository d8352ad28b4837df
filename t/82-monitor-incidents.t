#!/usr/bin/perl
# A monitor's state changes reach the incident hub (SPEC section 9): a
# monitor going down opens the incident monitor:<project>/<name>, in the
# transaction of the check that changed the state; another failure does
# not open a second; coming back up resolves it; going down again opens
# a new one.  One channel table (migration 0016): the channels a
# monitor lists hear of its incidents beside the hub's all-incidents
# channels, other incidents go as before; the migration moves the
# monitors' channels into the hub's table with their secrets and links,
# merges a same-named twin and refuses an ambiguous one.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;
use DashTest::Fixtures;

my $t = DashTest->new(config => { auth => { admins => ['admin'] },
    monitors => { allow_private => 'true', min_interval => '10s' } });
my $P = '/api/v1/projects/shop';
$t->psql(project_sql('shop', alice => 'editor', carol => 'admin'));

my $dir = $t->tmpdir;
$t->spawn([$^X, $t->srcdir . '/t/monitor-target.pl', "$dir/target.port", $dir]);
my $deadline = time + 10;
sleep 0.05 while !-s "$dir/target.port" && time < $deadline;
my $port = do { local (@ARGV) = ("$dir/target.port"); my $l = <>; chomp $l; $l };

sub monitor_doc {
	my ($path, $version) = @_;
	my %md = (name => 'home');
	$md{version} = $version if defined $version;
	return { kind => 'Monitor', metadata => \%md, spec => {
	    url => "http://127.0.0.1:$port$path", interval => '60s',
	    timeout => '5s', failureThreshold => 1, successThreshold => 1 } };
}
sub check { json_body($t->request(POST => "$P/monitors/home/check", user => 'alice')) }
sub incidents {
	return $t->psql(q{SELECT status || ':' || count FROM incident
	    WHERE dedup_key = 'monitor:shop/home' ORDER BY first_seen, id});
}

is($t->request(POST => "$P/monitors", user => 'alice',
    json => monitor_doc('/?status=500'))->{status}, 200, 'a monitor of a failing target');
my $c = check();
is($c->{state}, 'down', 'one failure: down');
is(incidents(), 'open:1', 'the incident monitor:shop/home is open');
is($t->psql(q{SELECT title || '|' || severity || '|' || source FROM incident
    WHERE dedup_key = 'monitor:shop/home'}), 'Monitor home is down: status|high|monitor',
    'its title, severity and source');
is($t->psql(q{SELECT count(*) FROM alert WHERE processed_at IS NULL}), 0,
    'the alert row is marked processed');
check();
is(incidents(), 'open:1', 'another failure, no state change: the same incident');

is($t->request(PUT => "$P/monitors/home", user => 'alice',
    json => monitor_doc('/', 0))->{status}, 200, 'the target is fixed');
$c = check();
is($c->{state}, 'up', 'one success: up');
is(incidents(), 'resolved:1', 'the incident is resolved');
my $tl = $t->psql(q{SELECT string_agg(coalesce(from_status, '-') || '>' || to_status
    || ' by ' || actor, ', ' ORDER BY tl.id) FROM incident_timeline tl
    JOIN incident i ON i.id = tl.incident_id WHERE i.dedup_key = 'monitor:shop/home'});
is($tl, '->open by monitor:home, open>resolved by monitor:home', 'its timeline');

is($t->request(PUT => "$P/monitors/home", user => 'alice',
    json => monitor_doc('/?status=503', 1))->{status}, 200, 'the target fails again');
check();
is(incidents(), "resolved:1\nopen:1", 'a new incident opens');
subtest "one channel table: a monitor's incidents reach its channels" => sub {
	my $ch = sub {
		my ($name, %spec) = @_;
		return $t->request(POST => "$P/channels", user => 'carol', json => {
		    kind => 'NotificationChannel', metadata => { name => $name },
		    spec => { type => 'webhook', url => "http://127.0.0.1:9/$name", %spec } });
	};
	is($ch->('mon-hook', secret => 'k3y', headers => { 'X-Token' => 't0k' })->{status},
	    200, 'a channel through the monitors\' route');
	is($ch->('unused')->{status}, 200, 'another no monitor lists');
	is($t->request(PUT => "$P/hub-channels/all-hook", user => 'alice',
	    json => { type => 'webhook', url => 'http://127.0.0.1:9/all' })->{status}, 201,
	    'a hub channel for all incidents');
	my $hub = json_body($t->request(GET => "$P/hub-channels", user => 'alice'));
	is(join(',', map { "$_->{name}:" . ($_->{allIncidents} ? 1 : 0) } @$hub),
	    'all-hook:1,mon-hook:0,unused:0', 'the hub lists all three: one table');
	unlike(join('', map { $_->{url} } @$hub), qr/k3y|t0k/, 'and no secret');
	my $m = monitor_doc('/?status=500');
	$m->{metadata}{name} = 'api';
	$m->{spec}{channels} = ['mon-hook'];
	is($t->request(POST => "$P/monitors", user => 'alice', json => $m)->{status}, 200,
	    'monitor api lists mon-hook');
	json_body($t->request(POST => "$P/monitors/api/check", user => 'alice'));
	my $notes = sub {
		return $t->psql("SELECT string_agg(n.channel || ':' || n.event, ',' ORDER BY"
		    . " n.channel, n.event) FROM alert_notification n JOIN incident i"
		    . " ON i.id = n.incident_id WHERE i.dedup_key = '$_[0]'");
	};
	is($notes->('monitor:shop/api'), 'all-hook:open,mon-hook:open',
	    'api down: its channel and the all-incidents one, not unused');
	$m->{spec}{url} =~ s/\?status=500//;
	$m->{metadata}{version} = 0;
	is($t->request(PUT => "$P/monitors/api", user => 'alice', json => $m)->{status}, 200,
	    'the target is fixed');
	json_body($t->request(POST => "$P/monitors/api/check", user => 'alice'));
	is($notes->('monitor:shop/api'), 'all-hook:open,all-hook:resolve,mon-hook:open,mon-hook:resolve',
	    'up again: both hear the resolve');
	is($t->request(POST => "$P/incidents", user => 'alice', json => { title => 'x',
	    severity => 'low', dedupKey => 'other' })->{status}, 201, 'an incident of no monitor');
	is($notes->('other'), 'all-hook:open', 'goes to the all-incidents channel only');
	is($t->request(DELETE => "$P/hub-channels/mon-hook", user => 'alice')->{status}, 409,
	    'the hub\'s route cannot delete a channel a monitor uses');
};

subtest 'migration 0016 moves the monitors\' channels into the hub\'s table' => sub {
	is($t->stop_dashcgi, 0, 'dashcgi stopped for the migrations');
	# Down to 0015: 0016 and every migration after it.
	my $steps = $t->psql('SELECT count(*) FROM schema_migrations WHERE version >= 16');
	my ($rc, $out, $err) = $t->run_dashcgi('migrate', 'down', '--steps', $steps);
	is($rc, 0, "down $steps steps, to 0015") or diag $err;
	is($t->psql(q{SELECT string_agg(name, ',' ORDER BY name) FROM notification_channel}),
	    'mon-hook,unused', 'down: the monitors\' channels are back in their table');
	is($t->psql(q{SELECT string_agg(name, ',' ORDER BY name) FROM hub_channel}),
	    'all-hook', 'the hub keeps its own');
	$t->psql(<<'SQL');
INSERT INTO hub_channel (project, name, type, url, created_by)
    VALUES ('shop', 'twin', 'webhook', 'http://127.0.0.1:9/twin', 'h');
INSERT INTO notification_channel (project, name, type, url, headers, secret, created_by, updated_by)
    VALUES ('shop', 'twin', 'webhook', 'http://127.0.0.1:9/twin', '{"X-A":"1"}', 'tw1n', 'm', 'm'),
	   ('shop', 'all-hook', 'slack', 'https://hooks.slack.com/x', '{}', NULL, 'm', 'm');
SQL
	($rc, $out, $err) = $t->run_dashcgi('migrate', 'up');
	isnt($rc, 0, 'up refuses a name in both tables with another type or URL');
	like($err, qr{shop/all-hook}, 'and names it') or diag $err;
	$t->psql(q{DELETE FROM notification_channel WHERE name = 'all-hook'});
	($rc, $out, $err) = $t->run_dashcgi('migrate', 'up');
	is($rc, 0, 'up once renamed (here: removed)') or diag $err;
	is($t->psql(q{SELECT string_agg(format('%s:%s:%s:%s', name, all_incidents,
	    coalesce(secret, '-'), headers), ',' ORDER BY name) FROM hub_channel}),
	    'all-hook:t:-:{},mon-hook:f:k3y:{"X-Token": "t0k"},twin:t:tw1n:{"X-A": "1"},unused:f:-:{}',
	    'moved with secrets and headers; the twin merged, keeping allIncidents');
	is($t->psql(q{SELECT string_agg(m.name || '>' || c.name, ',') FROM monitor_channel mc
	    JOIN monitor m ON m.id = mc.monitor_id JOIN hub_channel c ON c.id = mc.channel_id}),
	    'api>mon-hook', 'the monitor\'s link follows its channel');
	is($t->psql(q{SELECT to_regclass('notification_channel') IS NULL}), 't',
	    'the old table is gone');
};
done_testing();
