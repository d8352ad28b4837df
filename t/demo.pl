#!/usr/bin/perl
# t/demo.pl -- the demo behind t/demo: a throwaway PostgreSQL 15 cluster
# with the migrations applied, dashcgi (2 workers) and nginx carrying
# the shipped snippet on http://127.0.0.1:8080 with basic-auth users,
# all through DashTest in one temporary directory.  Prints the URL, the
# users and example requests (each tried first), then follows dashcgi's
# log until SIGINT/SIGTERM/SIGHUP, stops everything, removes the
# directory and exits 0.
#
#   perl -It/lib t/demo.pl       (after a build; t/demo does both)
#
# DASHCGI_BIN defaults to _demo/dashcgi, else ./dashcgi;
# DEMO_PORT overrides 8080 (for trying it beside another demo).
use strict;
use warnings;

use Cwd qw(abs_path getcwd);
use File::Basename qw(dirname);
use Time::HiRes qw(sleep);

my $TOP;
BEGIN {
	$TOP = abs_path(dirname(abs_path(__FILE__)) . '/..');
	$ENV{DASHCGI_SRCDIR} //= $TOP;
	if (!defined $ENV{DASHCGI_BIN}) {
		for my $c ("$TOP/_demo/dashcgi", getcwd() . '/dashcgi') {
			if (-x $c) {
				$ENV{DASHCGI_BIN} = $c;
				last;
			}
		}
	}
}
use DashTest;

my $PORT = $ENV{DEMO_PORT} // 8080;
$| = 1;

die "t/demo.pl: no dashcgi binary: build it first (t/demo does), or " .
    "set DASHCGI_BIN\n" unless defined $ENV{DASHCGI_BIN} && -x $ENV{DASHCGI_BIN};

print "t/demo: starting PostgreSQL, dashcgi and nginx ...\n";
# The web UI when it was built (t/demo runs make web): share links then
# open its read-only page, else the JSON.
my $www = "$ENV{DASHCGI_SRCDIR}/web/dist";
$www = undef unless defined $ENV{DASHCGI_SRCDIR} && -f "$www/index.html";
my $t = DashTest->new(workers => 2, auth => 1, nginx_port => $PORT,
    watchdog => 0, durable => 1, www => $www,
    config => { log => { level => 'info' },
    # A checker and an evaluator run, as in production; the monitors
    # check a loopback target of the demo's own.
    monitors => { checkers => 1, allow_private => 'true' },
    hub => { evaluators => 1, interval => '15s' },
    auth => { admins => ['admin'] },
    # Share links the demo prints open straight in a browser.
    shares => { url_prefix => $www ? "http://127.0.0.1:$PORT/shared/"
	: "http://127.0.0.1:$PORT/api/v1/shared/" } });
print "t/demo: the web UI is at http://127.0.0.1:$PORT/ (log in as a user below)\n"
    if $www;

# From here on a signal asks the loop below to stop.
my $stop;
$SIG{$_} = sub { $stop //= $_[0] } for qw(INT TERM HUP);

my $url = $t->url('');
my $DASH = '{"kind":"Dashboard","metadata":{"name":"cpu","project":"demo"},'
    . '"spec":{"display":{"name":"CPU"},"panels":{},"layouts":[]}}';
my $BAD = '{"kind":"Dashboard","metadata":{"name":"bad..name"},"spec":{}}';

# Real roles and data, made through the API itself: admin is a global
# administrator; in project "demo" carol is admin, alice editor, bob viewer.
sub seed {
	my ($what, $want, $method, $path, %o) = @_;
	my $r = $t->request($method, $path, %o);
	die "t/demo.pl: $what: $r->{status} (expected $want): $r->{content}\n"
	    unless $r->{status} == $want;
	return $r;
}
seed('create project demo', 200, POST => '/api/v1/projects', user => 'admin',
    body => '{"kind":"Project","metadata":{"name":"demo"},'
    . '"spec":{"display":{"name":"Demo"}}}');
for (['carol', 'admin'], ['alice', 'editor'], ['bob', 'viewer']) {
	seed("member $_->[0]", 200, PUT => "/api/v1/projects/demo/members/$_->[0]",
	    user => 'admin', body => qq({"role":"$_->[1]"}));
}
seed('dashboard from template', 200,
    POST => '/api/v1/projects/demo/dashboards/from-template', user => 'alice',
    body => '{"template":"model-serving","name":"serving",'
    . '"display":{"name":"Model serving (demo)"}}');
# dashcgi's own data on Perses dashboards (SPEC section 11), filled below.
for (['slo-overview', 'slos', 'SLO overview (demo)'],
    ['uptime', 'uptime', 'Uptime (demo)'],
    ['incidents', 'incidents', 'Incidents (demo)']) {
	seed("dashboard from template $_->[0]", 200,
	    POST => '/api/v1/projects/demo/dashboards/from-template',
	    user => 'alice', json => { template => $_->[0], name => $_->[1],
	    display => { name => $_->[2] } });
}
my $share = $t->json(seed('share link', 201,
    POST => '/api/v1/projects/demo/dashboards/serving/shares', user => 'alice',
    body => '{"expiresIn":"24h","note":"demo"}'));

# Uptime: a loopback target of our own (t/monitor-target.pl), and
# demo-data's 12 monitors of it (up, flapping, one down, one slow) with
# 90 days of history, checked by a real checker process every 30 s; the
# down one opens a hub incident.
print "t/demo: starting an HTTP target for the uptime monitors ...\n";
my $tdir = $t->tmpdir;
$t->spawn([$^X, "$ENV{DASHCGI_SRCDIR}/t/monitor-target.pl",
    "$tdir/target.port", $tdir]);
{
	my $deadline = time + 10;
	sleep 0.05 while !-s "$tdir/target.port" && time < $deadline;
}
my $tport = do { local (@ARGV) = ("$tdir/target.port"); my $l = <>; chomp $l; $l };
# A real SLO fleet in project demo: 124 SLOs, ~1M points (SPEC section 8),
# the monitors and the incident hub's history (sections 9 and 10).
print "t/demo: generating the SLO fleet (dashcgi demo-data) ...\n";
my ($drc, $dout, $derr) = $t->run_dashcgi({ timeout => 300 }, 'demo-data',
    '--project', 'demo', '--monitors', 12,
    '--monitor-target', "http://127.0.0.1:$tport", '--incidents');
die "t/demo.pl: demo-data failed ($drc): $derr\n" unless $drc == 0;
print $dout;
my $SLO = $t->psql("SELECT name FROM slo WHERE project = 'demo' " .
    "ORDER BY spec -> 'description', name LIMIT 1");

# The incident hub: demo-data --incidents (above) made its history --
# rules of every type, incidents with timelines and notifications, the
# last hour's events; the evaluator runs them from here on (the
# monitor_down rules catch "payments" going down).
my $INC = $t->psql("SELECT id FROM incident WHERE project = 'demo' " .
    "AND status = 'closed' ORDER BY first_seen DESC LIMIT 1");

my @examples = (
	[ 'liveness', "curl -i $url/live",
	    GET => '/live', 200 ],
	[ 'readiness (database reachable, migrations applied)',
	    "curl -i $url/ready", GET => '/ready', 200 ],
	[ 'health with database and worker checks',
	    "curl -s $url/api/v1/health", GET => '/api/v1/health', 200 ],
	[ 'Prometheus metrics', "curl -s $url/metrics | grep '^dashcgi_'",
	    GET => '/metrics', 200 ],
	[ 'validate a dashboard as alice: 200, empty body',
	    "curl -i -u alice:pw-alice -H 'Content-Type: application/json' \\\n" .
	    "       -d '$DASH' \\\n       $url/api/validate/dashboards",
	    POST => '/api/validate/dashboards', 200, user => 'alice',
	    body => $DASH ],
	[ 'an invalid one: 400 naming the first violation',
	    "curl -s -u bob:pw-bob -H 'Content-Type: application/json' \\\n" .
	    "       -d '$BAD' $url/api/validate/dashboards",
	    POST => '/api/validate/dashboards', 400, user => 'bob',
	    body => $BAD ],
	[ 'who am I (alice is an editor in project demo)',
	    "curl -s -u alice:pw-alice $url/api/v1/me",
	    GET => '/api/v1/me', 200, user => 'alice' ],
	[ 'the dashboards of project demo, as bob (viewer)',
	    "curl -s -u bob:pw-bob '$url/api/v1/projects/demo/dashboards?metadata_only=true'",
	    GET => '/api/v1/projects/demo/dashboards?metadata_only=true', 200,
	    user => 'bob' ],
	[ 'one dashboard, with its ETag (the version)',
	    "curl -i -u bob:pw-bob $url/api/v1/projects/demo/dashboards/serving",
	    GET => '/api/v1/projects/demo/dashboards/serving', 200, user => 'bob' ],
	[ 'bob may not change it: 403, and the denial is audited',
	    "curl -s -u bob:pw-bob -X DELETE $url/api/v1/projects/demo/dashboards/serving",
	    DELETE => '/api/v1/projects/demo/dashboards/serving', 403,
	    user => 'bob' ],
	[ 'the system templates',
	    "curl -s -u alice:pw-alice $url/api/v1/templates",
	    GET => '/api/v1/templates', 200, user => 'alice' ],
	[ 'the audit log of project demo, as carol (project admin)',
	    "curl -s -u carol:pw-carol '$url/api/v1/audit?project=demo'",
	    GET => '/api/v1/audit?project=demo', 200, user => 'carol' ],
	[ 'the uptime status page of project demo',
	    "curl -s -u bob:pw-bob $url/api/v1/projects/demo/status",
	    GET => '/api/v1/projects/demo/status', 200, user => 'bob' ],
	[ 'open incidents',
	    "curl -s -u bob:pw-bob $url/api/v1/projects/demo/incidents",
	    GET => '/api/v1/projects/demo/incidents', 200, user => 'bob' ],
	[ 'one incident with its timeline and notifications',
	    "curl -s -u bob:pw-bob $url/api/v1/projects/demo/incidents/$INC",
	    GET => "/api/v1/projects/demo/incidents/$INC", 200, user => 'bob' ],
	[ 'dashcgi as a Prometheus datasource: remaining error budgets',
	    "curl -s -u bob:pw-bob '$url/proxy/globaldatasources/dashcgi/api/v1/query?query=slo_error_budget_remaining'",
	    GET => '/proxy/globaldatasources/dashcgi/api/v1/query?query=slo_error_budget_remaining',
	    200, user => 'bob' ],
	[ 'and as an Alertmanager: open incidents as alerts',
	    "curl -s -u bob:pw-bob $url/proxy/globaldatasources/dashcgi-alerts/api/v2/alerts",
	    GET => '/proxy/globaldatasources/dashcgi-alerts/api/v2/alerts', 200,
	    user => 'bob' ],
	[ 'the SLO fleet in the seed system\'s shape',
	    "curl -s -u bob:pw-bob '$url/api/seed?project=demo'",
	    GET => '/api/seed?project=demo', 200, user => 'bob' ],
	[ 'one SLO: budget, burn rates, multiwindow alerts',
	    "curl -s -u bob:pw-bob $url/api/v1/projects/demo/slos/$SLO/status",
	    GET => "/api/v1/projects/demo/slos/$SLO/status", 200, user => 'bob' ],
	[ 'experiences and journeys with roll-ups',
	    "curl -s -u bob:pw-bob $url/api/v1/projects/demo/slo-tree",
	    GET => '/api/v1/projects/demo/slo-tree', 200, user => 'bob' ],
	[ 'its SLI\'s points, hourly, over 28 days',
	    "curl -s -u bob:pw-bob '$url/api/series/sli-$SLO?project=demo&step=1h'",
	    GET => "/api/series/sli-$SLO?project=demo&step=1h", 200,
	    user => 'bob' ],
	[ 'without a login: 401 from nginx',
	    "curl -i -H 'Content-Type: application/json' -d '$DASH' " .
	    "$url/api/validate/dashboards",
	    POST => '/api/validate/dashboards', 401, body => $DASH ],
);

print "\ndashcgi demo on $url\n\n";
print "users (HTTP basic auth): ",
    join(', ', map { "$_ / pw-$_" } @DashTest::USERS), "\n";
print "temporary directory:     ", $t->tmpdir, " (removed on exit)\n";
print "PostgreSQL:              psql -h ", $t->pg_socket_dir, " -p ",
    $t->pg_port, " -U postgres dashcgi\n";
print "dashcgi:                 ", $t->bin, ", master pid ", $t->master_pid,
    ", workers ", join(' ', $t->worker_pids), "\n";
print "\nexample requests (each was just tried; the answer is in brackets):\n";
for my $e (@examples) {
	my ($what, $curl, $method, $path, $want, %o) = @$e;
	my $r = $t->request($method, $path, %o);
	my $mark = $r->{status} == $want ? "[$r->{status}]"
	    : "[$r->{status}, expected $want!]";
	print "\n  # $what $mark\n  $curl\n";
}
print "\nshare link (no login; open it in a browser; expires in 24h):\n  $share->{url}\n";
print "\nCtrl-C stops everything.  dashcgi's log follows:\n\n";

# Follow dashcgi's log until a signal, or until dashcgi or nginx dies.
my $log = $t->tmpdir . '/dashcgi.log';
my $pos = 0;
my $why;
open(my $fh, '<', $log) or die "t/demo.pl: $log: $!\n";
until ($stop || $why) {
	seek($fh, $pos, 0);
	while (defined(my $l = <$fh>)) {
		last unless $l =~ /\n\z/;	# a line still being written
		print $l;
		$pos = tell($fh);
	}
	$why = "dashcgi exited" unless $t->dashcgi_running;
	$why = "nginx exited" if !$why && !$t->nginx_running;
	sleep 0.25 unless $stop || $why;
}
close $fh;

print "\nt/demo: ", ($stop ? "SIG$stop: " : "$why: "),
    "stopping dashcgi, nginx and PostgreSQL ...\n";
my $tmp = $t->tmpdir;
$t->cleanup;
print "t/demo: stopped; $tmp removed\n" unless -e $tmp;
exit($stop ? 0 : 1);
