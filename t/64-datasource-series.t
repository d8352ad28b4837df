#!/usr/bin/perl
# The SLO, uptime and hub series of dashcgi's own datasource (SPEC
# section 11), made through each module's own API and read back through
# the Prometheus API: values as the module computed them.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use POSIX qw(floor);
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(config => { auth => { admins => ['admin'] },
    monitors => { allow_private => 'true', min_interval => '10s' } });
my $G = '/proxy/globaldatasources/dashcgi/api/v1';
my $P = '/api/v1/projects/shop';
$t->psql(q{INSERT INTO project (name, display, created_by, updated_by)
    VALUES ('shop', '{}', 't', 't'), ('other', '{}', 't', 't');
    INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('shop', 'alice', 'editor', 't', 't')});

sub body { my $j = eval { JSON::PP->new->decode($_[0]{content} // '') }; $j }
sub esc { my $s = shift; $s =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord $1)/ge; $s }
sub range {
	my ($q, $start, $end, $step, $user) = @_;
	my $r = $t->request(GET => "$G/query_range?query=" . esc($q)
	    . "&start=$start&end=$end&step=$step", user => $user // 'alice');
	is($r->{status}, 200, "$q: 200") or diag $r->{content};
	return body($r)->{data}{result} // [];
}

my $now = floor(time / 300) * 300;	# on the 5-minute resolution
sub rfc3339 {
	my @g = gmtime($_[0]);
	return sprintf('%04d-%02d-%02dT%02d:%02d:%02dZ', $g[5] + 1900, $g[4] + 1,
	    @g[3, 2, 1, 0]);
}

subtest 'SLI points: good, bad, the 5-minute ratio and burn rate' => sub {
	my $r = $t->request(POST => "$P/slos", user => 'alice', json => {
	    kind => 'SLO', metadata => { name => 'checkout' }, spec => {
	    experience => 'E', journey => 'J', target => 0.99, window => '28d',
	    indicators => [ { id => 'sli-co' } ] } });
	is($r->{status}, 201, 'an SLO') or diag $r->{content};
	my @pts = map { { sli => 'sli-co', t => rfc3339($now - 300 * $_),
	    good => 990 - $_, bad => 10 + $_ } } 0 .. 3;
	$r = $t->request(POST => "$P/sli-points", user => 'alice',
	    json => \@pts);
	is($r->{status}, 200, 'four points') or diag $r->{content};
	my $good = range('sli_good{slo="checkout"}', $now - 900, $now, 300);
	is(scalar @$good, 1, 'one series');
	is_deeply($good->[0]{metric}, { __name__ => 'sli_good', project => 'shop',
	    slo => 'checkout', sli => 'sli-co' }, 'labels project, slo, sli');
	is_deeply([ map { $_->[1] } @{ $good->[0]{values} } ],
	    [ 987, 988, 989, 990 ], 'good, oldest first');
	my $bad = range('sli_bad', $now - 900, $now, 300);
	is($bad->[0]{values}[-1][1], '10', 'bad at the last step');
	my $ratio = range('slo_sli_ratio{window="5m"}', $now, $now, 300);
	is($ratio->[0]{values}[0][1], '0.99', 'ratio 990/1000');
	my $burn = range('slo_burn_rate', $now - 300, $now - 300, 300);
	cmp_ok(abs($burn->[0]{values}[0][1] - 1.1), '<', 1e-9,
	    'burn rate (11/1000)/0.01 = 1.1');
	my $st = body($t->request(GET => "$P/slos/checkout/status", user => 'alice'));
	my $rem = range('slo_error_budget_remaining', $now - 600, $now, 300);
	is(scalar @{ $rem->[0]{values} }, 1, 'the remaining budget: one point, now');
	cmp_ok(abs($rem->[0]{values}[0][1] - $st->{errorBudget}{remaining}), '<', 1e-9,
	    'the same figure as GET …/status');
	is(scalar @{ range('sli_good', $now - 900, $now, 300, 'bob') }, 0,
	    'bob, who has no role in shop, sees none of it');
};

subtest 'the hub: event metrics and open incidents' => sub {
	my $r = $t->request(POST => "$P/events", user => 'alice', json => [
	    map { { topic => 'api.metrics', data => { metric => 'latency',
	    value => $_ } } } 10, 20, 60 ]);
	is($r->{status}, 202, 'three events') or diag $r->{content};
	my $end = time + 120;
	my $sum = range('hub_metric{metric="latency",aggregate="sum"}',
	    $end - 240, $end, 60);
	is(scalar @$sum, 1, 'one series');
	is($sum->[0]{metric}{window_key}, '', 'window_key label');
	ok((grep { $_->[1] eq '90' } @{ $sum->[0]{values} }), 'sum 90 in its minute');
	my $avg = range('max(hub_metric{metric="latency",aggregate="avg"})',
	    $end - 240, $end, 60);
	ok((grep { $_->[1] eq '30' } @{ $avg->[0]{values} }), 'avg 30');
	$r = $t->request(POST => "$P/incidents", user => 'alice',
	    json => { title => 'down', severity => 'high', dedupKey => 'k1' });
	is($r->{status}, 201, 'an incident') or diag $r->{content};
	my $open = range('incidents_open{severity="high",project="shop"}',
	    time - 600, time + 1, 300);
	is($open->[0]{values}[-1][1], '1', 'one open high incident now');
	is($open->[0]{values}[0][1], '0', 'none ten minutes ago');
};

subtest 'uptime: a check through the checker\'s code, as monitor_up' => sub {
	my $dir = $t->tmpdir;
	my $tpid = $t->spawn([$^X, $t->srcdir . '/t/monitor-target.pl',
	    "$dir/target.port", $dir]);
	my $deadline = time + 10;
	sleep 0.05 while !-s "$dir/target.port" && time < $deadline;
	my $port = do { local (@ARGV) = ("$dir/target.port"); my $l = <>; chomp $l; $l };
	my $r = $t->request(POST => "$P/monitors", user => 'alice', json => {
	    kind => 'Monitor', metadata => { name => 'home' },
	    spec => { url => "http://127.0.0.1:$port/", interval => '60s',
	    timeout => '5s' } });
	is($r->{status}, 200, 'a monitor') or diag $r->{content};
	$r = $t->request(POST => "$P/monitors/home/check", user => 'alice');
	is($r->{status}, 200, 'a check') or diag $r->{content};
	ok(body($r)->{ok}, 'that succeeded');
	my $up = range('monitor_up{monitor="home"}', time - 60, time + 1, 30);
	is($up->[0]{values}[-1][1], '1', 'monitor_up 1');
	my $ratio = range('monitor_uptime_ratio{monitor="home",window="24h"}',
	    time - 60, time + 1, 30);
	is($ratio->[0]{values}[-1][1], '1', 'uptime ratio over 24h: 1');
	my $lat = range('monitor_latency_seconds{monitor="home",quantile="0.95"}',
	    time - 300, time + 120, 60);
	ok(@$lat && $lat->[0]{values}[-1][1] > 0, 'a p95 latency from the roll-up');
	$t->stop_spawned($tpid);
};

subtest 'every family is listed' => sub {
	my $r = $t->request(GET => "$G/metadata", user => 'alice');
	my $m = body($r)->{data};
	for my $f (qw(sli_good sli_bad slo_sli_ratio slo_burn_rate
	    slo_error_budget_remaining monitor_up monitor_latency_seconds
	    monitor_uptime_ratio hub_metric incidents_open)) {
		ok($m->{$f}, "$f");
	}
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing();
