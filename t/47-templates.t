#!/usr/bin/perl
# Templates (SPEC §4, §11): the seven system templates -- four from
# migration 0003 (Prometheus queries of the usual exporters), three from
# 0017 that chart dashcgi's own data through its own datasource, every
# query of which answers with data here --
# the catalogue and its paging, administration by global admins with
# system templates immutable (403, audited), a dashboard made from a
# template that counts one use, and `dashcgi maintenance` agreeing with
# that count.  Projects and members are made with SQL so this file does
# not depend on the projects API.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use POSIX ();
use DashTest;

my $t = DashTest->new(config => { auth => { admins => ['admin'] } });
my $JSON = JSON::PP->new->utf8->canonical;

# Sorted by category, then id: data, ml, reliability.
my @EXPORTERS = qw(data-pipeline model-serving notebook-server training-job);
my @OWN = qw(incidents slo-overview uptime);
my @SYSTEM = (@EXPORTERS, @OWN);
my %CATEGORY = ('data-pipeline' => 'data', 'model-serving' => 'ml',
    'notebook-server' => 'ml', 'training-job' => 'ml',
    map { $_ => 'reliability' } @OWN);
my @SUMMARY = sort qw(id name description category version isSystem
    usageCount createdAt);

# Project ml: alice editor, bob viewer; dave has no role anywhere.
$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by)
    VALUES ('ml', 'test', 'test');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('ml', 'alice', 'editor', 'test', 'test'),
           ('ml', 'bob', 'viewer', 'test', 'test');
SQL

# A small valid Perses spec for custom templates.
sub spec {
	my ($title) = @_;
	return { display => { name => $title }, duration => '1h',
	    variables => [], panels => { p1 => { kind => 'Panel', spec => {
	    display => { name => 'p1' }, plugin => { kind => 'TimeSeriesChart',
	    spec => {} } } } }, layouts => [ { kind => 'Grid', spec => {
	    items => [ { x => 0, y => 0, width => 12, height => 6,
	    content => { '$ref' => '#/spec/panels/p1' } } ] } } ] };
}

sub req {
	my ($method, $path, $user, $json) = @_;
	return $t->request($method, $path, user => $user,
	    defined $json ? (ref $json ? (json => $json) : (body => $json)) : ());
}

sub body { my $j = $t->json($_[0]); return $j }

# The answer is an error with this status and code; returns the body.
sub is_error {
	my ($r, $status, $code, $name) = @_;
	my $j = length($r->{content} // '') ? $t->json($r) : undef;
	$j = {} unless ref $j eq 'HASH';
	my $ok = is($r->{status}, $status, "$name: $status");
	$ok &&= is($j->{code}, $code, "$name: $code");
	diag $r->{content} unless $ok;
	return $j;
}

# The audit rows of one request, as hashes.
sub audit_of {
	my ($r) = @_;
	my $rid = $t->header($r, 'X-Request-Id') // '';
	die "unexpected request id \"$rid\"" unless $rid =~ /^[\w.:-]+$/;
	my $out = $t->psql("SELECT json_build_object('action', action,"
	    . " 'result', result, 'project', project, 'resource', resource,"
	    . " 'version', resource_version, 'actor', actor,"
	    . " 'details', details) FROM audit_log"
	    . " WHERE request_id = '$rid' ORDER BY id");
	return [ map { $JSON->decode($_) } grep { length } split /\n/, $out ];
}

sub one_audit_row {
	my ($r, $want, $name) = @_;
	my $rows = audit_of($r);
	is(scalar @$rows, 1, "$name: exactly one audit row")
	    or diag explain $rows;
	my $row = $rows->[0] // {};
	for my $k (sort keys %$want) {
		is_deeply($row->{$k}, $want->{$k}, "$name: audit $k");
	}
	return $row;
}

sub sql_value { $t->psql($_[0]) }

subtest 'the seven system templates are listed, sorted by category then id' => sub {
	my $r = req(GET => '/api/v1/templates', 'alice');
	is($r->{status}, 200, 'any user lists templates') or diag $r->{content};
	my $list = body($r);
	is_deeply([ map { $_->{id} } @$list ], \@SYSTEM,
	    'data-pipeline, the ml ones, then the reliability ones, by id');
	for my $e (@$list) {
		is_deeply([ sort keys %$e ], \@SUMMARY, "$e->{id}: the summary "
		    . 'fields, no dashboard');
		is($e->{category}, $CATEGORY{ $e->{id} }, "$e->{id}: category");
		ok($e->{isSystem}, "$e->{id}: isSystem");
		ok($e->{isSystem} && JSON::PP::is_bool($e->{isSystem}),
		    "$e->{id}: isSystem is a JSON boolean");
		is($e->{version}, 1, "$e->{id}: version 1");
		is($e->{usageCount}, 0, "$e->{id}: not used yet");
		like($e->{createdAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
		    "$e->{id}: createdAt is RFC 3339 UTC");
		ok(length $e->{name} && length $e->{description},
		    "$e->{id}: a name and a description");
	}

	$r = req(GET => '/api/v1/templates?category=ml', 'bob');
	is($r->{status}, 200, '?category=ml');
	is_deeply([ map { $_->{id} } @{ body($r) } ],
	    [qw(model-serving notebook-server training-job)],
	    'category ml: the three ML templates');
	$r = req(GET => '/api/v1/templates?category=data', 'dave');
	is_deeply([ map { $_->{id} } @{ body($r) } ], ['data-pipeline'],
	    'category data: data-pipeline (a user without any project reads '
	    . 'the catalogue too)');
	$r = req(GET => '/api/v1/templates?category=nothing', 'alice');
	is($r->{status}, 200, 'an unused category');
	is($r->{content}, '[]', 'is an empty array');
	my $e = is_error(req(GET => '/api/v1/templates?category=a..b', 'alice'),
	    400, 'bad_request', 'a category that breaks the name rule');
	like($e->{message} // '', qr/^category: /, 'the message names category');

	$r = $t->request(GET => '/api/v1/templates');
	is($r->{status}, 401, 'no identity: 401');
};

subtest 'paging: limit and the Link cursor walk the whole list' => sub {
	my ($path, @seen) = ('/api/v1/templates?limit=1');
	for my $page (1 .. 10) {
		my $r = req(GET => $path, 'alice');
		is($r->{status}, 200, "page $page") or last;
		my $list = body($r);
		is(scalar @$list, 1, "page $page: one entry");
		push @seen, map { $_->{id} } @$list;
		my $link = $t->header($r, 'Link') // '';
		last unless length $link;
		like($link, qr{^</api/v1/templates\?limit=1&cursor=[\w-]+>; rel="next"$},
		    "page $page: Link to the next page");
		($path) = $link =~ /^<([^>]+)>/;
	}
	is_deeply(\@seen, \@SYSTEM, 'every template once, in order, then no Link');

	my $r = req(GET => '/api/v1/templates?category=ml&limit=2', 'alice');
	is_deeply([ map { $_->{id} } @{ body($r) } ],
	    [qw(model-serving notebook-server)], 'ml, first page of two');
	my ($next) = ($t->header($r, 'Link') // '') =~ /^<([^>]+)>/;
	like($next // '', qr/category=ml&limit=2&cursor=/,
	    'the Link keeps the category filter');
	$r = req(GET => $next, 'alice');
	is_deeply([ map { $_->{id} } @{ body($r) } ], ['training-job'],
	    'ml, second page');
	ok(!defined $t->header($r, 'Link'), 'the last page has no Link');

	$r = req(GET => '/api/v1/templates?limit=7', 'alice');
	is(scalar @{ body($r) }, 7, 'limit equal to the count: all of them');
	ok(!defined $t->header($r, 'Link'), '... and no Link');

	for my $bad ('0', '1001', 'abc', '-1', '5x') {
		my $e = is_error(req(GET => "/api/v1/templates?limit=$bad", 'alice'),
		    400, 'bad_request', "limit=$bad");
		like($e->{message} // '', qr/^limit: /, "limit=$bad: names limit");
	}
	my $e = is_error(req(GET => '/api/v1/templates?cursor=%25%25%25', 'alice'),
	    400, 'bad_request', 'a cursor this list never returned');
	like($e->{message} // '', qr/^cursor: /, 'the message names cursor');
};

# Every system template's spec, from GET /api/v1/templates/{id}.
my %SPEC;

subtest 'get returns the summary and the dashboard spec' => sub {
	my $list = body(req(GET => '/api/v1/templates', 'alice'));
	for my $s (@$list) {
		my $r = req(GET => "/api/v1/templates/$s->{id}", 'bob');
		is($r->{status}, 200, "$s->{id}: 200") or next;
		my $j = body($r);
		my $d = delete $j->{dashboard};
		is_deeply($j, $s, "$s->{id}: the same summary as the list");
		is(ref $d, 'HASH', "$s->{id}: dashboard is an object") or next;
		$SPEC{ $s->{id} } = $d;
	}
	my $e = is_error(req(GET => '/api/v1/templates/no-such', 'alice'), 404,
	    'not_found', 'an unknown template');
	like($e->{message} // '', qr/no-such/, 'the message names it');
};

subtest 'the templates of 0003 are real Perses dashboards with PromQL' => sub {
	my %expect = (
		'model-serving' => [qr/histogram_quantile\(0\.99, sum by \(le\)/,
		    qr/DCGM_FI_DEV_GPU_UTIL/, qr/num_requests_waiting/,
		    qr/kube_deployment_status_replicas_available/, qr/5\.\./],
		'training-job' => [qr/training_loss/, qr/DCGM_FI_DEV_FB_USED/,
		    qr/DCGM_FI_DEV_GPU_UTIL/, qr/dataloader_wait/,
		    qr/checkpoint/],
		'notebook-server' => [qr/kernel/, qr/container_cpu_usage_seconds_total/,
		    qr/container_memory_working_set_bytes/,
		    qr/jupyterhub_server_spawn_duration_seconds_bucket/],
		'data-pipeline' => [qr/kafka_consumergroup_lag/,
		    qr/kube_job_status_failed|kube_job_failed/,
		    qr/kube_cronjob_status_last_successful_time/,
		    qr/kafka_topic_partition_current_offset/],
	);
	for my $id (@EXPORTERS) {
		my $s = $SPEC{$id} or do { fail("$id: no spec"); next };
		is($s->{duration}, '1h', "$id: duration 1h");
		ok(length $s->{display}{name}, "$id: display name");
		my %vars;
		for my $v (@{ $s->{variables} }) {
			is($v->{kind}, 'ListVariable', "$id: variable kind");
			is($v->{spec}{plugin}{kind}, 'PrometheusLabelValuesVariable',
			    "$id: variable $v->{spec}{name} from Prometheus labels");
			ok(!$vars{ $v->{spec}{name} }++, "$id: variable "
			    . "$v->{spec}{name} is unique");
		}
		ok($vars{namespace}, "$id: a namespace variable");
		my @keys = sort keys %{ $s->{panels} };
		cmp_ok(scalar @keys, '>=', 5, "$id: at least five panels");
		my (@queries, %placed);
		for my $k (@keys) {
			my $p = $s->{panels}{$k};
			like($k, qr/^[a-zA-Z0-9_.-]{1,75}$/, "$id: panel key $k");
			is($p->{kind}, 'Panel', "$id/$k: kind Panel");
			ok(length $p->{spec}{display}{name}, "$id/$k: a title");
			my @q = @{ $p->{spec}{queries} // [] };
			ok(@q, "$id/$k: has queries");
			for my $q (@q) {
				is($q->{kind}, 'TimeSeriesQuery', "$id/$k: query kind");
				is($q->{spec}{plugin}{kind}, 'PrometheusTimeSeriesQuery',
				    "$id/$k: a Prometheus query");
				my $e = $q->{spec}{plugin}{spec}{query} // '';
				push @queries, $e;
				my @used = $e =~ /\$(\w+)/g;
				ok(!grep({ !$vars{$_} } @used), "$id/$k: every "
				    . "\$variable in the query is declared")
				    or diag $e;
				is(($e =~ tr/(//), ($e =~ tr/)//),
				    "$id/$k: balanced parentheses");
			}
		}
		for my $l (@{ $s->{layouts} }) {
			is($l->{kind}, 'Grid', "$id: Grid layout");
			for my $i (@{ $l->{spec}{items} }) {
				my ($k) = ($i->{content}{'$ref'} // '')
				    =~ m{^#/spec/panels/(.+)$};
				ok(defined $k && $s->{panels}{$k}, "$id: layout "
				    . "\$ref $i->{content}{'$ref'} names a panel");
				$placed{$k // ''}++;
				ok($i->{x} + $i->{width} <= 24, "$id/$k: fits the grid");
			}
		}
		is_deeply([ sort keys %placed ], \@keys,
		    "$id: every panel is placed once")
		    and ok(!grep({ $_ != 1 } values %placed), "$id: no panel twice");
		my $all = join "\n", @queries;
		like($all, $_, "$id: queries use $_") for @{ $expect{$id} };
	}
};

subtest 'each system template validates through POST /api/validate/dashboards' => sub {
	for my $id (@SYSTEM) {
		my $doc = { kind => 'Dashboard', metadata => { name => $id,
		    project => 'ml' }, spec => $SPEC{$id} };
		my $r = req(POST => '/api/validate/dashboards', 'alice', $doc);
		is($r->{status}, 200, "$id: valid") or diag $r->{content};
	}
};

# What each panel of the reliability templates asks, and of which
# plugin: the contract of SPEC section 11, and the report's table.
my %OWN_PANELS = (
	'slo-overview' => {
	    lowest_budget => [ 'StatChart', 'min(slo_error_budget_remaining{slo=~"$slo"})' ],
	    slis => [ 'StatChart', 'count(slo_error_budget_remaining{slo=~"$slo"})' ],
	    budgets => [ 'Table', 'slo_error_budget_remaining{slo=~"$slo"}' ],
	    burn_rate => [ 'TimeSeriesChart', 'max by (project, slo) (slo_burn_rate{slo=~"$slo"})' ],
	    sli_ratio => [ 'TimeSeriesChart', 'min by (project, slo) (slo_sli_ratio{slo=~"$slo"})' ],
	    events => [ 'TimeSeriesChart', 'sum(sli_good{slo=~"$slo"})',
		'sum(sli_bad{slo=~"$slo"})' ] },
	uptime => {
	    up => [ 'StatChart', 'sum(monitor_up{monitor=~"$monitor"})' ],
	    uptime_24h => [ 'StatChart', 'avg(monitor_uptime_ratio{monitor=~"$monitor",window="24h"})' ],
	    uptime_30d => [ 'StatChart', 'avg(monitor_uptime_ratio{monitor=~"$monitor",window="30d"})' ],
	    uptime_90d => [ 'StatChart', 'avg(monitor_uptime_ratio{monitor=~"$monitor",window="90d"})' ],
	    state => [ 'StatusHistoryChart', 'monitor_up{monitor=~"$monitor"}' ],
	    uptime => [ 'Table', 'monitor_uptime_ratio{monitor=~"$monitor"}' ],
	    latency_p95 => [ 'TimeSeriesChart', 'max by (project, monitor) (monitor_latency_seconds{monitor=~"$monitor",quantile="0.95"})' ] },
	incidents => {
	    open => [ 'StatChart', 'sum(incidents_open)' ],
	    critical => [ 'StatChart', 'sum(incidents_open{severity="critical"})' ],
	    by_severity => [ 'TimeSeriesChart', 'sum by (severity) (incidents_open)' ],
	    table => [ 'Table', 'sum by (project, severity) (incidents_open)' ],
	    events => [ 'TimeSeriesChart', 'sum by (metric) (hub_metric{aggregate="count"})' ] },
);
my %OWN_VARS = ('slo-overview' => [ 'slo', 'slo', 'slo_sli_ratio' ],
    uptime => [ 'monitor', 'monitor', 'monitor_up' ], incidents => undef);

subtest 'the reliability templates: standard plugins, the dashcgi datasource' => sub {
	for my $id (@OWN) {
		my $s = $SPEC{$id} or do { fail("$id: no spec"); next };
		my %panels = map { $_ => [ $s->{panels}{$_}{spec}{plugin}{kind},
		    map { $_->{spec}{plugin}{spec}{query} }
		    @{ $s->{panels}{$_}{spec}{queries} } ] } keys %{ $s->{panels} };
		is_deeply(\%panels, $OWN_PANELS{$id}, "$id: panels, plugins, queries");
		for my $k (sort keys %{ $s->{panels} }) {
			for my $q (@{ $s->{panels}{$k}{spec}{queries} }) {
				is_deeply($q->{spec}{plugin}{spec}{datasource},
				    { kind => 'PrometheusDatasource', name => 'dashcgi' },
				    "$id/$k: the built-in dashcgi datasource");
			}
		}
		my @v = map { [ $_->{spec}{name}, $_->{spec}{plugin}{spec}{labelName},
		    @{ $_->{spec}{plugin}{spec}{matchers} } ] } @{ $s->{variables} };
		is_deeply(\@v, $OWN_VARS{$id} ? [ $OWN_VARS{$id} ] : [],
		    "$id: variables from the labels of dashcgi's series");
	}
};

subtest 'every query of the reliability templates has data (query_range)' => sub {
	# Data of each module, made as the modules make it: an SLO fleet
	# (demo-data), checks recorded by monitor_record (what the checker
	# calls), incidents and events through the API.
	my ($rc, $out, $err) = $t->run_dashcgi({ timeout => 300 }, 'demo-data',
	    '--project', 'ml', '--slos', '4', '--days', '2');
	is($rc, 0, 'demo-data: 4 SLOs over 2 days') or diag $err;
	$t->psql(<<'SQL');
INSERT INTO monitor (project, name, spec, every, paused, created_by, updated_by)
    VALUES ('ml', 'home', '{"url":"http://127.0.0.1:9/"}', '1 minute', true, 't', 't'),
           ('ml', 'api', '{"url":"http://127.0.0.1:9/"}', '1 minute', true, 't', 't');
SELECT count(monitor_record(m.id, now() - k * interval '1 minute', NULL,
    'test', k % 7 <> 0, 200, 40 + k, NULL, NULL, NULL, NULL,
    CASE WHEN k % 7 = 0 THEN 'status' END, NULL, NULL))
  FROM monitor m, generate_series(1, 30) k WHERE m.project = 'ml';
SQL
	for my $i ([ 'Checkout 5xx above 2%', 'critical', 'co-5xx' ],
	    [ 'Nightly export failed', 'low', 'export' ]) {
		my $r = req(POST => '/api/v1/projects/ml/incidents', 'alice',
		    { title => $i->[0], severity => $i->[1], dedupKey => $i->[2],
		    source => 'test' });
		is($r->{status}, 201, "incident $i->[2]") or diag $r->{content};
	}
	# Five minutes ago: a metric window is stamped at its end.
	my $at = POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time - 300));
	my $r = req(POST => '/api/v1/projects/ml/events', 'alice',
	    [ map { { topic => 'checkout.metrics', at => $at, data => {
	    metric => 'latency_ms', value => 80 + $_ } } } 1 .. 20 ]);
	is($r->{status}, 202, 'events') or diag $r->{content};

	my $end = time;
	for my $id (@OWN) {
		for my $k (sort keys %{ $OWN_PANELS{$id} }) {
			my ($kind, @q) = @{ $OWN_PANELS{$id}{$k} };
			for my $q (@q) {
				# "All" of a variable is its customAllValue.
				(my $e = $q) =~ s/\$(slo|monitor)\b/.*/g;
				$e =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord $1)/ge;
				my $r = req(GET => '/proxy/projects/ml/datasources/'
				    . 'dashcgi/api/v1/query_range?query=' . $e
				    . '&start=' . ($end - 3600) . "&end=$end&step=60",
				    'bob');
				is($r->{status}, 200, "$id/$k $q: 200")
				    or diag $r->{content};
				my $res = body($r)->{data}{result} // [];
				ok(@$res && @{ $res->[0]{values} // [] },
				    "$id/$k $q: data") or diag $r->{content};
			}
		}
	}
	# What the variables offer: the values of their label.
	for my $v (values %OWN_VARS) {
		next unless $v;
		my $r = req(GET => "/proxy/projects/ml/datasources/dashcgi/api/v1/"
		    . "label/$v->[1]/values?match[]=$v->[2]", 'bob');
		ok(@{ body($r)->{data} // [] }, "variable $v->[0]: values")
		    or diag $r->{content};
	}
};

# A spec that breaks a Perses rule: a layout $ref to no panel.
my $bad_ref = spec('bad');
$bad_ref->{layouts}[0]{spec}{items}[0]{content}{'$ref'} = '#/spec/panels/nope';

subtest 'a global admin creates, replaces and deletes a custom template' => sub {
	my $in = { id => 'gpu-fleet', name => 'GPU fleet',
	    description => 'All the GPUs', category => 'infra',
	    dashboard => spec('GPU fleet') };
	my $r = req(POST => '/api/v1/templates', 'admin', $in);
	is($r->{status}, 201, 'create: 201') or diag $r->{content};
	is($t->header($r, 'Location'), '/api/v1/templates/gpu-fleet',
	    'create: Location');
	my $j = body($r);
	is_deeply($j->{dashboard}, $in->{dashboard}, 'create: the spec as sent');
	is($j->{$_}, $in->{$_}, "create: $_") for qw(id name description category);
	ok(!$j->{isSystem} && JSON::PP::is_bool($j->{isSystem}),
	    'create: isSystem false');
	is($j->{version}, 1, 'create: version 1');
	is($j->{usageCount}, 0, 'create: usageCount 0');
	one_audit_row($r, { action => 'template.create', result => 'success',
	    resource => 'gpu-fleet', actor => 'admin', project => undef,
	    version => 1 }, 'create');

	$r = req(GET => '/api/v1/templates/gpu-fleet', 'alice');
	is_deeply(body($r), $j, 'get: what create answered');
	$r = req(GET => '/api/v1/templates?category=infra', 'alice');
	is_deeply([ map { $_->{id} } @{ body($r) } ], ['gpu-fleet'],
	    'listed under its category');

	$r = req(POST => '/api/v1/templates', 'admin', $in);
	my $e = is_error($r, 409, 'conflict', 'create again');
	like($e->{message} // '', qr/gpu-fleet/, '409 names the template');
	is(scalar @{ audit_of($r) }, 0, 'a refused create leaves no audit row');
	$r = req(POST => '/api/v1/templates', 'admin',
	    { %$in, id => 'model-serving' });
	is_error($r, 409, 'conflict', 'create with a system template id');

	# Replace: what is left out takes its default.
	my $new = spec('GPU fleet v2');
	$r = req(PUT => '/api/v1/templates/gpu-fleet', 'admin',
	    { name => 'GPU fleet 2', dashboard => $new });
	is($r->{status}, 200, 'replace: 200') or diag $r->{content};
	$j = body($r);
	is($j->{version}, 2, 'replace: version 2');
	is($j->{name}, 'GPU fleet 2', 'replace: the new name');
	is($j->{description}, '', 'replace: description left out is ""');
	is($j->{category}, 'general', 'replace: category left out is general');
	is_deeply($j->{dashboard}, $new, 'replace: the new spec');
	one_audit_row($r, { action => 'template.update', result => 'success',
	    resource => 'gpu-fleet', version => 2,
	    details => { oldVersion => 1, newVersion => 2 } }, 'replace');

	# A fetched template can be sent back as is (server fields ignored).
	my $got = body(req(GET => '/api/v1/templates/gpu-fleet', 'admin'));
	$r = req(PUT => '/api/v1/templates/gpu-fleet', 'admin', $got);
	is($r->{status}, 200, 'replace with the fetched document: 200')
	    or diag $r->{content};
	is(body($r)->{version}, 3, '... version 3');

	is_error(req(PUT => '/api/v1/templates/no-such', 'admin',
	    { name => 'x', dashboard => spec('x') }), 404, 'not_found',
	    'replace an unknown template');

	$r = req(DELETE => '/api/v1/templates/gpu-fleet', 'admin');
	is($r->{status}, 204, 'delete: 204') or diag $r->{content};
	is($r->{content} // '', '', 'delete: no body');
	one_audit_row($r, { action => 'template.delete', result => 'success',
	    resource => 'gpu-fleet', version => 3 }, 'delete');
	is_error(req(GET => '/api/v1/templates/gpu-fleet', 'admin'), 404,
	    'not_found', 'gone after delete');
	is_error(req(DELETE => '/api/v1/templates/gpu-fleet', 'admin'), 404,
	    'not_found', 'delete again');
};

subtest 'bad template bodies are refused, naming the field' => sub {
	my %ok = (id => 'fine', name => 'Fine', dashboard => spec('Fine'));
	my @cases = (
		[ 'the body is an array', '[]', qr/JSON object/ ],
		[ 'no id', { %ok, id => undef }, qr/^id: required/ ],
		[ 'id breaks the name rule', { %ok, id => 'a..b' }, qr/^id: / ],
		[ 'id too long', { %ok, id => 'x' x 76 }, qr/^id: / ],
		[ 'id not a string', { %ok, id => 7 }, qr/^id: must be a string/ ],
		[ 'no name', { %ok, name => undef }, qr/^name: / ],
		[ 'empty name', { %ok, name => '' }, qr/^name: / ],
		[ 'description not a string', { %ok, description => [] },
		    qr/^description: / ],
		[ 'category breaks the name rule', { %ok, category => 'M L' },
		    qr/^category: / ],
		[ 'no dashboard', { %ok, dashboard => undef }, qr/^dashboard: required/ ],
		[ 'dashboard not an object', { %ok, dashboard => 'x' },
		    qr/^dashboard: must be an object/ ],
		[ 'an unknown field', { %ok, dashbaord => {} },
		    qr/^dashbaord: unknown field/ ],
		[ 'isSystem true', { %ok, isSystem => JSON::PP::true },
		    qr/^isSystem: / ],
	);
	for my $c (@cases) {
		my ($name, $body, $msg) = @$c;
		if (ref $body) {
			delete $body->{$_} for grep { !defined $body->{$_} } keys %$body;
		}
		my $e = is_error(req(POST => '/api/v1/templates', 'admin', $body),
		    400, 'validation_failed', $name);
		like($e->{message} // '', $msg, "$name: the message names the field");
	}
	is_error(req(POST => '/api/v1/templates', 'admin', '{"id":'), 400,
	    'invalid_json', 'malformed JSON');
	my $r = $t->request(POST => '/api/v1/templates', user => 'admin',
	    json => \%ok, headers => { 'Content-Type' => 'text/plain' });
	is($r->{status}, 415, 'not application/json: 415');

	# PUT: the path names the template.
	req(POST => '/api/v1/templates', 'admin', \%ok)->{status} == 201
	    or fail('fixture template');
	my $e = is_error(req(PUT => '/api/v1/templates/fine', 'admin',
	    { %ok, id => 'other' }), 400, 'validation_failed',
	    'replace with another id in the body');
	like($e->{message} // '', qr/^id: .*differs/, 'the message says so');

	# The Perses rules of validate_dashboard(), on the spec alone.
	$e = is_error(req(POST => '/api/v1/templates', 'admin',
	    { %ok, id => 'bad-ref', dashboard => $bad_ref }), 400,
	    'validation_failed', 'a layout $ref to a missing panel');
	like($e->{message} // '', qr{^dashboard\.layouts\[0\]\.spec\.items\[0\].*nope},
	    'the message points into dashboard and names the $ref');
	$e = is_error(req(PUT => '/api/v1/templates/fine', 'admin',
	    { %ok, dashboard => $bad_ref }), 400, 'validation_failed',
	    'replace with a dangling $ref');
	like($e->{message} // '', qr/^dashboard\.layouts/, '... names the field');
	$e = is_error(req(POST => '/api/v1/templates', 'admin',
	    { %ok, id => 'empty', dashboard => {} }), 400, 'validation_failed',
	    'an empty spec');
	like($e->{message} // '', qr/^dashboard/, '... names dashboard');
	my $dup = spec('dup');
	$dup->{variables} = [ map { { kind => 'TextVariable', spec => {
	    name => 'v', value => '' } } } 1, 2 ];
	$e = is_error(req(POST => '/api/v1/templates', 'admin',
	    { %ok, id => 'dup', dashboard => $dup }), 400, 'validation_failed',
	    'two variables of one name');
	like($e->{message} // '', qr/^dashboard\.variables.*"v"/,
	    '... names the variable');
	is(sql_value("SELECT count(*) FROM dashboard_template WHERE NOT is_system"),
	    1, 'nothing but the fixture was stored');
	is(req(DELETE => '/api/v1/templates/fine', 'admin')->{status}, 204,
	    'fixture removed');
};

subtest 'system templates are immutable: 403, audited as denied' => sub {
	my $before = $JSON->encode(body(req(GET => '/api/v1/templates/model-serving',
	    'admin')));
	my $r = req(PUT => '/api/v1/templates/model-serving', 'admin',
	    { name => 'Hijacked', dashboard => spec('x') });
	my $e = is_error($r, 403, 'forbidden', 'replace a system template');
	like($e->{message} // '', qr/system template "model-serving" is immutable/,
	    'the message says why');
	one_audit_row($r, { action => 'template.update', result => 'denied',
	    resource => 'model-serving', actor => 'admin' }, 'replace denied');

	$r = req(DELETE => '/api/v1/templates/training-job', 'admin');
	is_error($r, 403, 'forbidden', 'delete a system template');
	my $row = one_audit_row($r, { action => 'template.delete',
	    result => 'denied', resource => 'training-job' }, 'delete denied');
	like($row->{details}{reason} // '', qr/immutable/, 'the reason is kept');

	is($JSON->encode(body(req(GET => '/api/v1/templates/model-serving',
	    'admin'))), $before, 'model-serving is unchanged');
	is(req(GET => '/api/v1/templates/training-job', 'admin')->{status}, 200,
	    'training-job is still there');
};

subtest 'only global administrators manage templates' => sub {
	req(POST => '/api/v1/templates', 'admin',
	    { id => 'custom', name => 'Custom', dashboard => spec('c') })->{status}
	    == 201 or fail('fixture template');
	my $r = req(POST => '/api/v1/templates', 'alice',
	    { id => 'mine', name => 'Mine', dashboard => spec('m') });
	is_error($r, 403, 'forbidden', 'an editor creates');
	one_audit_row($r, { action => 'template.create', result => 'denied',
	    actor => 'alice' }, 'create denied');
	$r = req(PUT => '/api/v1/templates/custom', 'bob',
	    { name => 'Taken', dashboard => spec('t') });
	is_error($r, 403, 'forbidden', 'a viewer replaces');
	one_audit_row($r, { action => 'template.update', result => 'denied',
	    actor => 'bob' }, 'replace denied');
	$r = req(DELETE => '/api/v1/templates/custom', 'dave');
	is_error($r, 403, 'forbidden', 'a stranger deletes');
	one_audit_row($r, { action => 'template.delete', result => 'denied',
	    actor => 'dave' }, 'delete denied');
	is(sql_value("SELECT name || ' ' || version FROM dashboard_template "
	    . "WHERE id = 'custom'"), 'Custom 1', 'the template is untouched');
	is(sql_value("SELECT count(*) FROM dashboard_template WHERE id = 'mine'"),
	    0, 'nothing was created');
};

my $FT = '/api/v1/projects/ml/dashboards/from-template';

sub usage_count {
	my ($id) = @_;
	my ($e) = grep { $_->{id} eq $id }
	    @{ body(req(GET => '/api/v1/templates', 'alice')) };
	return $e ? $e->{usageCount} : undef;
}

subtest 'a dashboard from a template: the spec, the display, one use' => sub {
	my $r = req(POST => $FT, 'alice', { template => 'model-serving',
	    name => 'ms-prod', display => { name => 'Serving (prod)' } });
	is($r->{status}, 200, 'an editor: 200') or diag $r->{content};
	is($t->header($r, 'ETag'), '"0"', 'ETag "0"');
	my $d = body($r);
	is($d->{kind}, 'Dashboard', 'a Dashboard document');
	is($d->{metadata}{$_->[0]}, $_->[1], "metadata.$_->[0]")
	    for [name => 'ms-prod'], [project => 'ml'], [version => 0];
	my $want = $JSON->decode($JSON->encode($SPEC{'model-serving'}));
	$want->{display}{name} = 'Serving (prod)';
	is_deeply($d->{spec}, $want, "the template's spec, display name "
	    . 'replaced, its description kept');
	one_audit_row($r, { action => 'dashboard.create', result => 'success',
	    project => 'ml', resource => 'ms-prod', version => 0,
	    actor => 'alice', details => { template => 'model-serving' } },
	    'from-template');
	is(usage_count('model-serving'), 1, 'usageCount 1 in the list at once');
	is(sql_value("SELECT project || '/' || dashboard || ' ' || used_by "
	    . "FROM template_usage WHERE template_id = 'model-serving'"),
	    'ml/ms-prod alice', 'one template_usage row');
	is(sql_value("SELECT last_used_at IS NOT NULL FROM dashboard_template "
	    . "WHERE id = 'model-serving'"), 't', 'last_used_at set');
	is(sql_value("SELECT spec = '" . $JSON->encode($want) =~ s/'/''/gr
	    . "'::jsonb AND created_by = 'alice' FROM dashboard "
	    . "WHERE project = 'ml' AND name = 'ms-prod' AND deleted_at IS NULL"),
	    't', 'the dashboard row holds that spec');

	# Without display: the spec is the template's, byte for byte in JSONB.
	$r = req(POST => $FT, 'alice', { template => 'data-pipeline',
	    name => 'etl' });
	is($r->{status}, 200, 'without display: 200') or diag $r->{content};
	is(sql_value("SELECT d.spec = t.dashboard FROM dashboard d, "
	    . "dashboard_template t WHERE d.project = 'ml' AND d.name = 'etl' "
	    . "AND t.id = 'data-pipeline'"), 't', 'the spec equals the template');
	$r = req(POST => $FT, 'alice', { template => 'training-job',
	    name => 'train', display => { description => 'nightly run' } });
	is(body($r)->{spec}{display}{name}, $SPEC{'training-job'}{display}{name},
	    'display.description alone keeps the display name');
	is(body($r)->{spec}{display}{description}, 'nightly run',
	    '... and replaces the description');

	$r = req(POST => $FT, 'alice', { template => 'model-serving',
	    name => 'ms-prod' });
	my $e = is_error($r, 409, 'conflict', 'the same name again');
	like($e->{message} // '', qr/ms-prod/, '409 names the dashboard');
	is(usage_count('model-serving'), 1, 'a refused create counts no use');
	is(sql_value("SELECT count(*) FROM template_usage WHERE template_id = "
	    . "'model-serving'"), 1, 'and leaves no usage row');
	is(scalar @{ audit_of($r) }, 0, 'and no audit row');

	$e = is_error(req(POST => $FT, 'alice', { template => 'no-such',
	    name => 'x1' }), 404, 'not_found', 'an unknown template');
	like($e->{message} // '', qr/template "no-such" not found/,
	    '404 names the template');
	is(sql_value("SELECT count(*) FROM dashboard WHERE name = 'x1'"), 0,
	    'no dashboard for an unknown template');

	for my $c (
	    [ 'no name', { template => 'model-serving' }, qr/^name: required/ ],
	    [ 'a name that breaks the rule', { template => 'model-serving',
		name => 'bad..name' }, qr/^name: "bad\.\.name" is not a valid/ ],
	    [ 'name not a string', { template => 'model-serving', name => 5 },
		qr/^name: must be a string/ ],
	    [ 'no template', { name => 'x2' }, qr/^template: required/ ],
	    [ 'display not an object', { template => 'model-serving',
		name => 'x3', display => 'Serving' }, qr/^display: / ],
	    [ 'display.name not a string', { template => 'model-serving',
		name => 'x4', display => { name => 1 } }, qr/^display\.name: / ],
	    [ 'an unknown display field', { template => 'model-serving',
		name => 'x5', display => { title => 'x' } },
		qr/^display\.title: unknown field/ ],
	    [ 'an unknown field', { template => 'model-serving', name => 'x6',
		project => 'other' }, qr/^project: unknown field/ ],
	) {
		my $e = is_error(req(POST => $FT, 'alice', $c->[1]), 400,
		    'validation_failed', $c->[0]);
		like($e->{message} // '', $c->[2], "$c->[0]: names the field");
	}

	$r = req(POST => $FT, 'bob', { template => 'model-serving',
	    name => 'by-viewer' });
	is_error($r, 403, 'forbidden', 'a viewer');
	one_audit_row($r, { action => 'dashboard.create', result => 'denied',
	    project => 'ml', actor => 'bob' }, 'viewer denied');
	is_error(req(POST => $FT, 'dave', { template => 'model-serving',
	    name => 'by-stranger' }), 404, 'not_found',
	    'a user without a role in the project');
	is_error(req(POST => '/api/v1/projects/nope/dashboards/from-template',
	    'admin', { template => 'model-serving', name => 'x' }), 404,
	    'not_found', 'an unknown project');
	is(usage_count('model-serving'), 1, 'none of these counted a use');
};

subtest 'deleting a custom template keeps what was made from it' => sub {
	my $r = req(POST => $FT, 'alice', { template => 'custom',
	    name => 'from-custom' });
	is($r->{status}, 200, 'a dashboard from a custom template')
	    or diag $r->{content};
	is(usage_count('custom'), 1, 'counted');
	is(req(DELETE => '/api/v1/templates/custom', 'admin')->{status}, 204,
	    'the template is deleted');
	is(sql_value("SELECT count(*) FROM dashboard WHERE name = 'from-custom' "
	    . "AND deleted_at IS NULL"), 1, 'its dashboard stays');
	is(sql_value("SELECT count(*) FROM template_usage "
	    . "WHERE template_id = 'custom'"), 0, 'its usage rows went with it');
};

subtest 'maintenance keeps usage_count equal to the template_usage rows' => sub {
	my $agree = "SELECT count(*) FROM dashboard_template t WHERE "
	    . "t.usage_count <> (SELECT count(*) FROM template_usage u "
	    . "WHERE u.template_id = t.id)";
	is(sql_value($agree), 0, 'the API kept the counts right');
	my ($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'dashcgi maintenance') or diag $err;
	is(sql_value($agree), 0, 'the counts still agree after maintenance');
	is(usage_count('model-serving'), 1, 'model-serving: still 1');

	$t->psql("UPDATE dashboard_template SET usage_count = 42 "
	    . "WHERE id = 'notebook-server'");
	is(usage_count('notebook-server'), 42, 'a count gone wrong');
	($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'dashcgi maintenance again') or diag $err;
	is(usage_count('notebook-server'), 0, 'is recomputed from the rows');
	is(sql_value($agree), 0, 'every count agrees');
};

# Migration $m down, $between, up again, in one transaction rolled back
# (the running server never sees it): the answers, one a line, of a
# snapshot of the system templates, $between, and the snapshot again.
sub down_between_up {
	my ($m, $between) = @_;
	my $dir = $t->srcdir . '/migrations';
	local $/;
	open(my $up, '<', "$dir/$m.up.sql") or die $!;
	open(my $down, '<', "$dir/$m.down.sql") or die $!;
	my ($u, $d) = (<$up>, <$down>);
	my $snap = "SELECT string_agg(id || ':' || md5(dashboard::text), ',' "
	    . "ORDER BY id) FROM dashboard_template WHERE is_system;\n";
	my $out = $t->psql("BEGIN;\n$snap$d\n$between$u\n$snap ROLLBACK;\n");
	return grep { length } split /\n/, $out;
}

subtest 'migration 0003 reverts and re-applies cleanly' => sub {
	my @l = down_between_up('0003_system_templates',
	    "SELECT count(*) FROM dashboard_template WHERE is_system;\n"
	    . "SELECT count(*) FROM pg_proc WHERE proname IN "
	    . "('template_summary', 'template_doc');\n");
	is(scalar @l, 4, 'four answers') or diag explain \@l;
	is($l[1], scalar @OWN, 'down: only the templates of 0017 are left');
	is($l[2], 0, 'down: the document functions are gone');
	is($l[3], $l[0], 'up again: the same seven templates');
};

subtest 'migration 0017 reverts and re-applies cleanly' => sub {
	my @l = down_between_up('0017_datasource_templates',
	    "SELECT string_agg(id, ',' ORDER BY id) FROM dashboard_template"
	    . " WHERE is_system;\n");
	is(scalar @l, 3, 'three answers') or diag explain \@l;
	is($l[1], join(',', @EXPORTERS), 'down: the four of 0003 are left');
	is($l[2], $l[0], 'up again: the same seven templates');
};

done_testing();
