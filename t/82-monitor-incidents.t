#!/usr/bin/perl
# A monitor's state changes reach the incident hub (SPEC section 9): a
# monitor going down opens the incident monitor:<project>/<name>, in the
# transaction of the check that changed the state; another failure does
# not open a second; coming back up resolves it; going down again opens
# a new one.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;
use DashTest::Fixtures;

my $t = DashTest->new(config => { auth => { admins => ['admin'] },
    monitors => { allow_private => 'true', min_interval => '10s' } });
my $P = '/api/v1/projects/shop';
$t->psql(project_sql('shop', alice => 'editor'));

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
is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing();
