#!/usr/bin/perl
# The web UI (SPEC §12) in a real browser: Debian's chromium driven by
# puppeteer-core (web/test/e2e.mjs) against the real stack, nginx serving
# web/dist through the shipped snippet.  Every page is walked; any
# console error, uncaught exception or failed request fails its step;
# each step leaves a screenshot under t/90-web-ui.shots in the build
# tree.  Budgets measured here: the dashboard list interactive, a
# 20-panel dashboard drawn over 28 days of SLO data (dashcgi demo-data's
# fleet, as t/demo has it), the status page of 1,000 monitors (demo-data
# --monitors 1000 in project "fleet").  The stack keeps
# monitors.allow_private off: the walk's monitor of a loopback address
# shows the checker's refusal.  A second stack ("live": its own
# database, nginx and a checker process, allow_private on) checks a
# monitor of t/monitor-target.pl every 2 s; the browser sees it up, the
# walk asks this script to stop the target (a "# stop-target" line) and
# the status page shows it down: the real checker, no mocks.
#
# Skipped (with the reason) only when chromium or the built UI is
# absent: `make web` builds it, t/deps installs chromium; CI has both.
use strict;
use warnings;
use Test::More;
use File::Path qw(make_path remove_tree);
use Cwd qw(abs_path getcwd);
use Time::HiRes qw(sleep time);
use DashTest;

my $src = $ENV{DASHCGI_SRCDIR} // abs_path(__FILE__ . '/../..');
my $www = "$src/web/dist";
my ($chromium) = grep { -x } ($ENV{CHROMIUM} // ()), '/usr/bin/chromium',
    '/usr/bin/chromium-browser';
plan skip_all => 'chromium is not installed (t/deps installs it)'
    unless $chromium;
plan skip_all => "no built UI in $www (run `make web`)"
    unless -f "$www/index.html" && -f "$www/plugins/index.json";
plan skip_all => 'puppeteer-core is not installed (run `make web`)'
    unless -d "$src/web/node_modules/puppeteer-core";
my $node = (grep { -x } map { "$_/node" } split /:/, $ENV{PATH})[0]
    or plan skip_all => 'node is not installed';

# The walk takes minutes, far more on a machine shared with builds.
my $t = DashTest->new(workers => 4, www => $www, watchdog => 2400,
    config => { auth => { admins => ['admin'] },
    monitors => { allow_private => 'false' } });

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('demo', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('demo', 'alice', 'editor', 't', 't'),
	   ('demo', 'carol', 'editor', 't', 't'),
	   ('demo', 'bob', 'viewer', 't', 't');
SQL

# The SLO fleet of the demo: 124 SLOs, 28 days of points every 5 minutes.
my ($drc, $dout, $derr) = $t->run_dashcgi({ timeout => 600 }, 'demo-data',
    '--project', 'demo');
is($drc, 0, 'fixture: dashcgi demo-data') or diag $derr;
my @slos = split /\n/, $t->psql("SELECT name FROM slo WHERE project = 'demo' " .
    "ORDER BY name LIMIT 20");
is(scalar @slos, 20, 'fixture: 20 SLOs to draw');

# A 20-panel dashboard over 28 days of SLO series, a panel per SLO.
my (%panels, @items);
for my $i (1 .. 20) {
	my $slo = $slos[$i - 1] // "slo-$i";
	$panels{"p$i"} = { kind => 'Panel', spec => {
	    display => { name => "SLI $i" },
	    plugin => { kind => 'TimeSeriesChart', spec => {} },
	    queries => [ { kind => 'TimeSeriesQuery', spec => { plugin => {
		kind => 'PrometheusTimeSeriesQuery',
		spec => { query => "slo_sli_ratio{slo=\"$slo\"}" } } } } ] } };
	push @items, { x => (($i - 1) % 4) * 6, y => int(($i - 1) / 4) * 6,
	    width => 6, height => 6, content => { '$ref' => "#/spec/panels/p$i" } };
}
my $r = $t->request(POST => '/api/v1/projects/demo/dashboards', user => 'alice',
    json => { kind => 'Dashboard', metadata => { name => 'twenty' },
	spec => { display => { name => 'Twenty SLIs' }, duration => '28d',
	    variables => [], panels => \%panels,
	    layouts => [ { kind => 'Grid', spec => { items => \@items } } ] } });
is($r->{status}, 200, 'fixture: the 20-panel dashboard') or diag $r->{content};

# The second stack: a checker allowed to reach loopback, its target,
# and a monitor of it checked every 2 s that goes down at the first
# failure.
my $live = DashTest->new(workers => 2, www => $www,
    config => { auth => { admins => ['admin'] },
    monitors => { checkers => 1, allow_private => 'true', min_interval => '1s' } });
$live->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('live', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('live', 'alice', 'editor', 't', 't');
SQL
my $ldir = $live->tmpdir;
my $tpid = $live->spawn([$^X, "$src/t/monitor-target.pl", "$ldir/target.port", $ldir]);
my $tend = time + 10;
sleep 0.05 while !-s "$ldir/target.port" && time < $tend;
my $tport = do { local (@ARGV) = ("$ldir/target.port"); my $l = <>; chomp $l; $l };
ok($tport, "fixture: the loopback target listens on $tport");
my $TARGET = "http://127.0.0.1:$tport";
$r = $live->request(POST => '/api/v1/projects/live/monitors', user => 'alice',
    json => { kind => 'Monitor', metadata => { name => 'loopback' },
	spec => { url => "$TARGET/?status=200", interval => '2s', timeout => '1s',
	    failureThreshold => 1, successThreshold => 1 } });
is($r->{status}, 200, 'fixture: a monitor of the loopback target') or diag $r->{content};

# 1,000 monitors with 90 days of history for the status page's budget
# (no checker runs on the first stack: their history is demo-data's).
$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('fleet', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('fleet', 'alice', 'viewer', 't', 't');
SQL
($drc, $dout, $derr) = $t->run_dashcgi({ timeout => 900 }, 'demo-data',
    '--project', 'fleet', '--slos', '1', '--days', '1', '--monitors', '1000',
    '--monitor-target', $TARGET);
is($drc, 0, 'fixture: dashcgi demo-data --monitors 1000') or diag $derr;
is($t->psql("SELECT count(*) FROM monitor WHERE project = 'fleet'"), 1000,
    'fixture: 1,000 monitors in project fleet');

# The plugin list and a plugin's manifest, as an upstream Perses UI reads them.
$r = $t->request(GET => '/api/v1/plugins', user => 'alice');
is($r->{status}, 200, '/api/v1/plugins answers');
my $mods = eval { $t->json($r) } || [];
ok((grep { $_->{kind} eq 'PluginModule' && $_->{metadata}{name} eq 'TimeSeriesChart' } @$mods),
    '/api/v1/plugins lists PluginModules');
$r = $t->request(GET => '/plugins/TimeSeriesChart/mf-manifest.json');
is($r->{status}, 200, 'a plugin manifest is served without a login');
$r = $t->request(GET => '/projects/demo/dashboards/twenty', user => 'alice');
like($r->{content} // '', qr/<div id="root">/, 'a client-side route answers index.html')
    or diag "$r->{status}";
$r = $t->request(GET => '/projects/demo');
is($r->{status}, 401, 'the UI itself needs a login');

my $shots = getcwd() . '/t/90-web-ui.shots';
remove_tree($shots);
make_path($shots);
my $port = $t->nginx_port;
my $lport = $live->nginx_port;
my $cmd = "cd '$src/web' && BASE=http://127.0.0.1:$port SHOTS='$shots' " .
    "CHROMIUM='$chromium' PROJECT=demo TEMPLATE=model-serving SLO='$slos[0]' " .
    "LIVE=http://127.0.0.1:$lport TARGET='$TARGET' FLEET=fleet " .
    "timeout 1500 '$node' test/e2e.mjs 2>&1";
open(my $fh, '-|', $cmd) or die "e2e: $!";
my $n = 0;
while (my $line = <$fh>) {
	chomp $line;
	if ($line =~ /^(not )?ok - (.*?)(?: # (.*))?$/) {
		$n++;
		ok(!$1, "browser: $2") or diag($3 // '');
	} elsif ($line eq '# stop-target') {
		# The walk saw the monitor up: the target goes away.
		my $st = $live->stop_spawned($tpid, 10);
		note("target stopped (exit " . ($st // 'none') . ')');
	} else {
		note($line);
		diag($line) if $line =~ /^# budget/;
	}
}
close($fh);
my $rc = $? >> 8;
ok($n > 20, "the browser walk ran its checks ($n)");
is($rc, 0, 'the browser walk exited cleanly') or diag "exit $rc";
note("screenshots in $shots");

done_testing();
