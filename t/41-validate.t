#!/usr/bin/perl
# POST /api/validate/dashboards through nginx, as Perses answers it:
# 200 with an empty body for a valid dashboard, else 400
# {"status":400,"code":"validation_failed","message":"<path>: <what>"}
# naming the first violation; 401 without a user, 415 unless JSON.
# What a stock Perses server accepts is accepted (lower-case kind,
# duplicate tags, Tabs layouts, width 0, ...), what it refuses refused.
# Validation needs no database: it still answers with PostgreSQL down.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time);
use DashTest;
use DashTest::Fixtures qw(project_sql);

# auth => 0: a request without a user reaches dashcgi, which answers
# the 401 itself (nginx would answer its own HTML page otherwise).
my $t = DashTest->new(auth => 0);

my $VALIDATE = '/api/validate/dashboards';
my $NAME_RULE = 'must be 1 to 75 characters of [a-zA-Z0-9_.-], without ' .
    '".." and not starting or ending with "."';

# A valid dashboard touching every rule; each case changes one thing.
sub base {
	return {
		kind => 'Dashboard',
		metadata => { name => 'api-latency', project => 'demo',
		    version => 3, tags => [ 'api', 'latency' ] },
		spec => {
			display => { name => 'API latency' },
			duration => '1h', refreshInterval => '30s',
			variables => [
				{ kind => 'ListVariable', spec => { name => 'env' } },
				{ kind => 'TextVariable', spec => { name => 'q',
				    value => '' } },
			],
			panels => {
				map { ("p$_" => { kind => 'Panel', spec => {
				    plugin => { kind => 'TimeSeriesChart',
				    spec => {} } } }) } 1 .. 3
			},
			layouts => [ { kind => 'Grid', spec => { items => [
				map { { x => 0, y => 6 * $_, width => 12,
				    height => 6, content => { '$ref' =>
				    "#/spec/panels/p" . ($_ + 1) } } } 0 .. 2
			] } } ],
		},
	};
}

my $JSON = JSON::PP->new->utf8->canonical;


sub validate {
	my ($doc, %o) = @_;
	return $t->request(POST => $VALIDATE, user => 'alice',
	    body => ref $doc ? $JSON->encode($doc) : $doc, %o);
}

# The whole error body, exactly.
sub refused {
	my ($r, $message, $name) = @_;
	subtest $name => sub {
		is($r->{status}, 400, 'answers 400');
		like($t->header($r, 'Content-Type') // '', qr{^application/json},
		    'JSON');
		my $j = length($r->{content} // '') ? $t->json($r) : {};
		is_deeply([ $j->{status}, $j->{code}, $j->{message},
		    scalar keys %$j ], [ 400, 'validation_failed', $message, 3 ],
		    'the exact error body') or diag $r->{content};
		ok(length($t->header($r, 'X-Request-Id') // ''), 'X-Request-Id');
	};
}

sub accepted {
	my ($r, $name) = @_;
	subtest $name => sub {
		is($r->{status}, 200, 'answers 200') or diag $r->{content};
		is($r->{content}, '', 'an empty body');
	};
}

accepted(validate(base()), 'a valid dashboard: 200, empty body');

{
	my $d = base();
	$d->{spec}{panels} = {};
	$d->{spec}{layouts} = [];
	delete $d->{metadata}{project};
	$d->{metadata}{tags} = [ map { sprintf 't%02d', $_ } 1 .. 20 ];
	$d->{metadata}{name} = 'n' x 64;
	$d->{spec}{plugins} = { anything => [ 1, 2 ] };
	$d->{metadata}{annotations} = { team => 'sre' };
	accepted(validate($d), 'valid edges: no panels, no layouts, no '
	    . 'project, 20 tags, a 64-character name, unknown members');
}

# Each rule, broken alone: [what to change, the exact message, name].
my @cases = (
	[ sub { $_[0]{kind} = 'Panel' }, 'kind: must be "Dashboard"',
	    'kind is not Dashboard' ],
	[ sub { delete $_[0]{kind} }, 'kind: required', 'kind is missing' ],
	[ sub { $_[0]{metadata} = [] }, 'metadata: must be an object',
	    'metadata is not an object' ],
	[ sub { $_[0]{metadata}{name} = 'a..b' }, "metadata.name: $NAME_RULE",
	    'metadata.name with ".."' ],
	[ sub { $_[0]{metadata}{name} = 'n' x 76 },
	    "metadata.name: $NAME_RULE", 'metadata.name of 76 characters' ],
	[ sub { $_[0]{metadata}{project} = '.demo' },
	    "metadata.project: $NAME_RULE", 'metadata.project starting with "."' ],
	[ sub { $_[0]{metadata}{tags} = [ map { "t$_" } 1 .. 21 ] },
	    'metadata.tags: at most 20 tags', '21 tags' ],
	[ sub { $_[0]{metadata}{tags} = [ 'api', ' api' ] },
	    'metadata.tags[1]: must not start or end with white space',
	    'a tag with leading white space' ],
	[ sub { $_[0]{metadata}{tags} = [ 'x' x 51 ] },
	    'metadata.tags[0]: must be 1 to 50 characters (got 51)',
	    'a tag of 51 characters' ],
	[ sub { delete $_[0]{spec} }, 'spec: required', 'no spec' ],
	[ sub { $_[0]{spec} = {} }, 'spec: must not be empty', 'an empty spec' ],
	[ sub { $_[0]{spec}{display} = 'API' },
	    'spec.display: must be an object', 'spec.display is a string' ],
	[ sub { $_[0]{spec}{duration} = '1hour' },
	    'spec.duration: invalid duration "1hour" (expected e.g. "30s", '
	    . '"5m", "1h30m", "7d")', 'spec.duration does not parse' ],
	[ sub { $_[0]{spec}{refreshInterval} = '-30s' },
	    'spec.refreshInterval: invalid duration "-30s" (expected e.g. '
	    . '"30s", "5m", "1h30m", "7d")', 'a negative refreshInterval' ],
	[ sub { $_[0]{spec}{variables}[1]{kind} = 'QueryVariable' },
	    'spec.variables[1].kind: must be "ListVariable" or "TextVariable"',
	    'an unknown variable kind' ],
	[ sub { $_[0]{spec}{variables}[1]{spec}{name} = 'env' },
	    'spec.variables[1].spec.name: duplicate variable "env"',
	    'a duplicate variable name' ],
	[ sub { $_[0]{spec}{panels}{'my panel'} = $_[0]{spec}{panels}{p1} },
	    qq{spec.panels: panel key "my panel" $NAME_RULE},
	    'a panel key with a space' ],
	[ sub { delete $_[0]{spec}{panels}{p1}{spec}{plugin}{kind} },
	    'spec.panels.p1.spec.plugin.kind: required',
	    'a panel without a plugin kind' ],
	[ sub { $_[0]{spec}{layouts}[0]{kind} = 'Row' },
	    'spec.layouts[0].kind: must be "Grid" or "Tabs"',
	    'a layout of kind Row' ],
	[ sub { $_[0]{spec}{layouts}[0]{spec}{items}[1]{width} = -1 },
	    'spec.layouts[0].spec.items[1].width: must be an integer >= 0',
	    'an item of width -1' ],
	[ sub { $_[0]{spec}{layouts}[0]{spec}{items}[0]{x} = -1 },
	    'spec.layouts[0].spec.items[0].x: must be an integer >= 0',
	    'an item at x -1' ],
	[ sub { $_[0]{spec}{layouts}[0]{spec}{items}[2]{content}{'$ref'} =
	    '#/spec/panels/p9' },
	    'spec.layouts[0].spec.items[2].content.$ref: no panel "p9"',
	    'a $ref to a missing panel' ],
	[ sub { $_[0]{spec}{layouts}[0]{spec}{items}[2]{content}{'$ref'} =
	    '#/panels/p1' },
	    'spec.layouts[0].spec.items[2].content.$ref: must be '
	    . '"#/spec/panels/<panel>" (got "#/panels/p1")',
	    'a $ref of the wrong form' ],
	# The rules Perses has and dashcgi did not check.
	[ sub { $_[0]{metadata}{version} = '3' },
	    'metadata.version: must be an integer >= 0',
	    'metadata.version as a string (Go decodes a uint64)' ],
	[ sub { $_[0]{metadata}{version} = -1 },
	    'metadata.version: must be an integer >= 0',
	    'a negative metadata.version' ],
	[ sub { $_[0]{spec}{timezone} = 'Mars/Olympus_Mons' },
	    'spec.timezone: "Mars/Olympus_Mons" is not a valid timezone (an '
	    . 'IANA name such as "Europe/Paris", "UTC" or "local")',
	    'an unknown timezone' ],
	[ sub { $_[0]{spec}{timezone} = '../../../../etc/passwd' },
	    'spec.timezone: "../../../../etc/passwd" is not a valid timezone '
	    . '(an IANA name such as "Europe/Paris", "UTC" or "local")',
	    'a timezone that climbs out of zoneinfo' ],
	[ sub { $_[0]{spec}{queryBatching} = { mode => 'everything' } },
	    'spec.queryBatching.mode: must be "off", "panel", "viewport" or '
	    . '"dashboard" (got "everything")', 'an unknown queryBatching mode' ],
	[ sub { $_[0]{spec}{queryBatching} = { maxPerRequest => -1 } },
	    'spec.queryBatching.maxPerRequest: must be an integer >= 0',
	    'a negative queryBatching.maxPerRequest' ],
	[ sub { $_[0]{spec}{variables}[1]{spec}{name} = '42' },
	    'spec.variables[1].spec.name: must not be only digits ("$1" is a '
	    . 'regexp placeholder, not a variable)', 'a variable named 42' ],
	[ sub { $_[0]{spec}{variables}[1]{spec}{name} = '__interval' },
	    'spec.variables[1].spec.name: must not start with "__" (the '
	    . 'prefix of builtin variables)', 'a variable named __interval' ],
	[ sub { $_[0]{spec}{variables}[1]{spec}{constant} = JSON::PP::true },
	    'spec.variables[1].spec.value: required for a constant text '
	    . 'variable', 'a constant text variable without a value' ],
	[ sub { $_[0]{spec}{variables}[0]{spec}{customAllValue} = '.*' },
	    'spec.variables[0].spec.customAllValue: cannot be set unless '
	    . 'allowAllValue is true', 'customAllValue without allowAllValue' ],
	[ sub { $_[0]{spec}{variables}[0]{spec}{defaultValue} = [ 'a', 'b' ] },
	    'spec.variables[0].spec.defaultValue: a list of values needs '
	    . 'allowMultiple true', 'two default values without allowMultiple' ],
	[ sub { $_[0]{spec}{variables}[1]{spec}{value} = 'x=$region' },
	    'spec.variables[1]: variable "region" is used in the variable "q" '
	    . 'but not defined', 'a variable using an undefined one' ],
	[ sub { $_[0]{spec}{variables}[1]{spec}{value} = '$env';
	    $_[0]{spec}{variables}[0]{spec}{plugin} = { kind =>
	    'PrometheusLabelValuesVariable', spec => { labelName => 'env',
	    matchers => [ 'up{q="$q"}' ] } } },
	    'spec.variables: circular dependency detected (variable "env" '
	    . 'depends on itself through the variables it uses)',
	    'two variables using each other' ],
	[ sub { $_[0]{spec}{datasources} = { map { ($_ => { default =>
	    JSON::PP::true, plugin => { kind => 'PrometheusDatasource' } }) }
	    qw(a b) } },
	    'spec.datasources.b.default: a second default datasource of kind '
	    . '"PrometheusDatasource"', 'two default datasources of one kind' ],
	[ sub { $_[0]{spec}{datasources} = { prom => { plugin => { kind =>
	    'PrometheusDatasource', spec => { proxy => { kind => 'HTTPProxy',
	    spec => { url => 'http://prometheus:9090', allowedEndpoints => [
	    { endpointPattern => '/api/v1/.*', method => 'OPTIONS' } ] } } } } } } },
	    'spec.datasources.prom.plugin.spec.proxy.spec.allowedEndpoints[0].'
	    . 'method: must be GET, POST, DELETE, PUT or PATCH (got "OPTIONS")',
	    'a datasource proxy endpoint with an unknown method' ],
	[ sub { $_[0]{spec}{panels}{p1}{spec}{annotations} =
	    [ { display => { name => '' }, plugin => { kind => 'X' } } ] },
	    'spec.panels.p1.spec.annotations[0].display.name: required',
	    'a panel annotation without a name' ],
	[ sub { $_[0]{spec}{panels}{p1}{spec}{plugin}{spec} = '@NUMBER@' },
	    'spec.panels.p1.spec.plugin.spec.max: a number of more than 40 '
	    . 'significant digits or with an exponent beyond +-308',
	    'a number with a huge exponent (1e131071)' ],
);

for my $c (@cases) {
	my $d = base();
	$c->[0]->($d);
	# JSON::PP cannot write 1e131071 itself: it goes in as text.
	(my $body = $JSON->encode($d)) =~ s/"\@NUMBER\@"/{"max":1e131071}/;
	refused(validate($body), $c->[1], $c->[2]);
}

# What a stock Perses server accepts and dashcgi used to refuse.
my @perses_accepts = (
	[ sub { $_[0]{kind} = 'dashboard' }, 'kind in lower case' ],
	[ sub { $_[0]{metadata}{tags} = [ 'api', 'api', 'x' ] },
	    'a duplicate tag (dropped)' ],
	[ sub { $_[0]{metadata}{tags} = [ (map { "t$_" } 1 .. 20), 't1' ] },
	    '21 tags of which 20 distinct' ],
	[ sub { $_[0]{spec}{duration} = '' }, 'an empty duration' ],
	[ sub { $_[0]{spec}{panels}{p2}{kind} = 'Grid' },
	    'a panel of kind Grid (any string)' ],
	[ sub { $_[0]{spec}{layouts}[0]{spec}{items}[1]{width} = 0;
	    $_[0]{spec}{layouts}[0]{spec}{items}[1]{height} = 0 },
	    'an item of width and height 0' ],
	[ sub { $_[0]{spec}{layouts}[1] = { kind => 'Tabs', spec => {
	    display => { title => 'More' }, defaultTab => 0, tabs => [
	    { name => 'one', items => [ { x => 0, y => 0, width => 24,
	    height => 8, content => { '$ref' => '#/spec/panels/p1' } } ] },
	    { name => 'two', items => [] } ] } } }, 'a Tabs layout' ],
	[ sub { $_[0]{spec}{timezone} = 'Europe/Paris' }, 'timezone Europe/Paris' ],
	[ sub { $_[0]{spec}{timezone} = 'local' }, 'timezone local' ],
	[ sub { $_[0]{spec}{queryBatching} = { mode => 'viewport',
	    maxPerRequest => 0 } }, 'queryBatching viewport, 0' ],
	[ sub { $_[0]{spec}{variables}[1]{spec}{value} =
	    'rate(x{env="$env"}[$__rate_interval]) ${other} $1' },
	    'a variable using a defined, a builtin, a braced and a numbered one' ],
	[ sub { $_[0]{spec}{datasources} = { a => { default => JSON::PP::true,
	    plugin => { kind => 'PrometheusDatasource' } }, b => { default =>
	    JSON::PP::true, plugin => { kind => 'TempoDatasource' } } } },
	    'default datasources of two kinds' ],
);
for my $c (@perses_accepts) {
	my $d = base();
	$c->[0]->($d);
	accepted(validate($d), "accepted as Perses does: $c->[1]");
}

refused(validate('[1,2]'), 'the document must be a JSON object',
    'a JSON array is not a dashboard');

{
	my $d = base();
	$d->{kind} = 'Panel';
	$d->{spec}{duration} = 'x';
	$d->{spec}{layouts}[0]{spec}{items}[0]{content}{'$ref'} = 'x';
	refused(validate($d), 'kind: must be "Dashboard"',
	    'several violations: the first in document order');
}

{
	# A client's text quoted back stays whole UTF-8 in the body.
	my $d = base();
	$d->{spec}{timezone} = "\x{20ac}" x 30;
	my $r = validate($d);
	refused($r, 'spec.timezone: "' . ("\x{20ac}" x 21) . '" is not a '
	    . 'valid timezone (an IANA name such as "Europe/Paris", "UTC" or '
	    . '"local")', 'a long non-ASCII value is quoted to whole characters');
}

# What PostgreSQL's jsonb cannot hold, validate refuses exactly as
# create does (one validation for both, issue 16 item 15).  json-c
# turns a lone surrogate into U+FFFD and cuts a member name at \u0000,
# so before the fix validate answered 200 where create answered 400.
# [text spliced into spec (raw JSON), the message, name].
subtest 'validate refuses what create refuses' => sub {
	$t->psql(project_sql('v41', alice => 'editor'));
	my @bad = (
	    [ '"description":"a\ud800b"', 'spec.description: a string '
		. 'holds a lone UTF-16 high surrogate \ud800',
		'a lone high surrogate' ],
	    [ '"description":"\udc00"', 'spec.description: a string holds '
		. 'a lone UTF-16 low surrogate \udc00', 'a lone low surrogate' ],
	    [ '"description":"\ud83d\u0041"', 'spec.description: a string '
		. 'holds a lone UTF-16 high surrogate \ud83d',
		'a high surrogate before a non-surrogate' ],
	    [ '"x":{"a\u0000b":1}', 'spec.x: a member name holds \u0000, '
		. 'which PostgreSQL cannot store', '\u0000 in a member name' ],
	    [ '"x":[1,{"k":"a\u0000"}]', 'spec.x[1].k: a string holds '
		. '\u0000, which PostgreSQL cannot store', '\u0000 in a value' ],
	    [ '"x":1e999999', 'spec.x: a number of more than 40 significant '
		. 'digits or with an exponent beyond +-308', 'a huge exponent' ],
	);
	my $n = 0;
	for my $c (@bad) {
		my ($raw, $msg, $name) = @$c;
		my $body = splice_spec($raw, 'bad' . $n++);
		refused(validate($body), $msg, "validate: $name");
		my $r = $t->request(POST => '/api/v1/projects/v41/dashboards',
		    user => 'alice', body => $body);
		refused($r, $msg, "create: $name");
	}
	# Escapes that only look alike pass both.
	for my $c ([ '"description":"\ud83d\ude00 \\\\u0000 \\\\ud800"',
	    'a surrogate pair, an escaped backslash before u0000 and ud800' ]) {
		my $body = splice_spec($c->[0], 'good' . $n++);
		accepted(validate($body), "validate: $c->[1]");
		my $r = $t->request(POST => '/api/v1/projects/v41/dashboards',
		    user => 'alice', body => $body);
		is($r->{status}, 200, "create: $c->[1]") or diag $r->{content};
	}
};

# A dashboard named $name whose spec starts with the raw JSON $raw.
sub splice_spec {
	my ($raw, $name) = @_;
	my $d = base();
	$d->{metadata}{name} = $name;
	$d->{metadata}{project} = 'v41';
	delete $d->{metadata}{version};
	my $body = $JSON->encode($d);
	$body =~ s/"spec":\{/"spec":{$raw,/ or die 'no spec in the body';
	return $body;
}

subtest '401 without a user' => sub {
	my $r = $t->request(POST => $VALIDATE, body => $JSON->encode(base()));
	is($r->{status}, 401, 'answers 401');
	my $j = $t->json($r) // {};
	is($j->{code}, 'unauthorized', 'code unauthorized');
};

subtest '415 with text/plain' => sub {
	my $r = validate(base(), content_type => 'text/plain');
	is($r->{status}, 415, 'answers 415');
	my $j = $t->json($r) // {};
	is($j->{code}, 'unsupported_media_type', 'code unsupported_media_type');
};

subtest 'a 1 MiB dashboard of 500 panels' => sub {
	my $d = base();
	my $q = 'sum by (route) (rate(http_requests_total{job="api"}[5m])) ' x 32;
	$d->{spec}{panels} = { map { ("panel-$_" => { kind => 'Panel',
	    spec => { display => { name => "panel $_" },
	    plugin => { kind => 'TimeSeriesChart', spec => {} },
	    queries => [ { kind => 'TimeSeriesQuery', spec => { plugin => {
	    kind => 'PrometheusTimeSeriesQuery', spec => { query => $q } } } } ],
	    } }) } 1 .. 500 };
	$d->{spec}{layouts}[0]{spec}{items} = [ map { { x => 0, y => $_,
	    width => 12, height => 6,
	    content => { '$ref' => "#/spec/panels/panel-$_" } } } 1 .. 500 ];
	my $body = $JSON->encode($d);
	cmp_ok(length $body, '>=', 1_000_000, 'the body is 1 MB or more ('
	    . length($body) . ' bytes)');
	my $t0 = time;
	my $r = validate($body);
	is($r->{status}, 200, 'valid') or diag substr($r->{content}, 0, 300);
	diag sprintf('1 MiB round trip through nginx: %.1f ms', 1e3 * (time - $t0));

	$d->{spec}{layouts}[0]{spec}{items}[499]{content}{'$ref'} =
	    '#/spec/panels/panel-501';
	refused(validate($d), 'spec.layouts[0].spec.items[499].content.$ref: '
	    . 'no panel "panel-501"', 'the last of 500 $refs dangles');
};

subtest 'no database needed' => sub {
	$t->pg_stop;
	accepted(validate(base()), 'valid while PostgreSQL is down');
	my $d = base();
	$d->{kind} = 'x';
	refused(validate($d), 'kind: must be "Dashboard"',
	    'refused while PostgreSQL is down');
	$t->pg_start;
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');

done_testing;
