#!/usr/bin/perl
# OpenSLO v1 (SPEC §8): GET …/slos/{name}?format=openslo exports an SLO
# with one SLI as an OpenSLO v1 `kind: SLO` document (JSON) with an
# inline ratio SLI; POST …/slos?format=openslo creates and PUT
# …/slos/{name}?format=openslo updates an SLO from one.  Proves the
# round trip of target, window (every window dashcgi has) and indicator,
# the import of a document another tool wrote (no dashcgi annotations,
# targetPercent, bad/total, 4w), locking (If-Match or the
# dashcgi/version annotation), every refusal naming its field (non-ratio
# SLIs, windows dashcgi has not, other budgeting methods), roles and
# the audit rows.
use strict;
use warnings;
use Test::More;
use POSIX qw(strftime);
use DashTest;

my $t = DashTest->new(workers => 2);

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('shop', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('shop', 'carol', 'editor', 't', 't'), ('shop', 'bob', 'viewer', 't', 't');
SQL

my $P = '/api/v1/projects/shop';

sub body { my $j = eval { JSON::PP->new->decode($_[0]{content} // '') }; $j }

sub native {
	my ($name, %o) = @_;
	return { kind => 'SLO', metadata => { name => $name },
	    spec => { experience => 'E-commerce', journey => 'Checkout',
	    display => { name => "SLO $name" }, target => $o{target} // 0.999,
	    window => $o{window} // '28d', owner => 'payments-team',
	    description => "about $name",
	    indicators => $o{indicators} // [ { id => "sli-$name",
		display => { name => 'HTTP 2xx ratio' } } ] } };
}

# A document as another tool writes it: no dashcgi annotations.
sub openslo {
	my ($name, %o) = @_;
	my $d = { apiVersion => 'openslo/v1', kind => 'SLO',
	    metadata => { name => $name, displayName => "Imported $name" },
	    spec => { service => 'Search', description => 'from elsewhere',
	    indicator => { metadata => { name => "sli-$name" },
		spec => { ratioMetric => { counter => JSON::PP::true,
		    good => { metricSource => { type => 'Prometheus',
			spec => { query => 'ok' } } },
		    total => { metricSource => { type => 'Prometheus',
			spec => { query => 'all' } } } } } },
	    timeWindow => [ { duration => '28d', isRolling => JSON::PP::true } ],
	    budgetingMethod => 'Occurrences',
	    objectives => [ { displayName => 'x', target => 0.99 } ] } };
	$o{edit}->($d) if $o{edit};
	return $d;
}

sub import_ {
	my ($doc, %o) = @_;
	return $t->request(POST => "$P/slos?format=openslo",
	    user => $o{user} // 'carol', json => $doc);
}

sub export_ {
	my ($name, $user) = @_;
	return $t->request(GET => "$P/slos/$name?format=openslo",
	    user => $user // 'bob');
}

# 400 validation_failed whose message starts with the field's path.
sub refused {
	my ($r, $field, $what) = @_;
	my $j = body($r) // {};
	ok($r->{status} == 400 && ($j->{code} // '') eq 'validation_failed' &&
	    index($j->{message} // '', "$field:") == 0,
	    "$what: 400 naming $field") or diag "$r->{status} $r->{content}";
}

# ---------------------------------------------------------------------
subtest 'export: an OpenSLO v1 SLO with an inline ratio SLI' => sub {
	my $r = $t->request(POST => "$P/slos", user => 'carol',
	    json => native('checkout'));
	is($r->{status}, 201, 'a native SLO') or diag $r->{content};
	$r = export_('checkout');
	is($r->{status}, 200, 'a viewer exports it') or diag $r->{content};
	is($t->header($r, 'ETag'), '"0"', 'with its version as the ETag');
	my $d = body($r);
	is($d->{apiVersion}, 'openslo/v1', 'apiVersion openslo/v1');
	is($d->{kind}, 'SLO', 'kind SLO');
	is($d->{metadata}{name}, 'checkout', 'metadata.name');
	is($d->{metadata}{displayName}, 'SLO checkout', 'metadata.displayName');
	is_deeply($d->{metadata}{annotations}, { 'dashcgi/experience' =>
	    'E-commerce', 'dashcgi/owner' => 'payments-team',
	    'dashcgi/version' => '0' }, 'experience, owner, version as annotations');
	is($d->{spec}{service}, 'Checkout', 'spec.service is the journey');
	is($d->{spec}{description}, 'about checkout', 'spec.description');
	is($d->{spec}{indicator}{metadata}{name}, 'sli-checkout',
	    'the SLI inline, named by its id');
	is($d->{spec}{indicator}{metadata}{displayName}, 'HTTP 2xx ratio',
	    'and its display name');
	my $ratio = $d->{spec}{indicator}{spec}{ratioMetric};
	is_deeply([ $ratio->{good}{metricSource}{spec}{count},
	    $ratio->{total}{metricSource}{spec}{count} ], [ 'good', 'good+bad' ],
	    'a ratio: good over good+bad of the stored counts');
	is_deeply($d->{spec}{timeWindow}, [ { duration => '28d',
	    isRolling => JSON::PP::true } ], 'a rolling 28d window');
	is($d->{spec}{budgetingMethod}, 'Occurrences', 'budgeting by occurrences');
	like($r->{content}, qr/"target"\s*:\s*0\.999[,}]/,
	    'the target exactly as written');

	$r = $t->request(GET => "$P/slos/checkout?format=yaml", user => 'bob');
	ok($r->{status} == 400 && (body($r)->{message} // '') =~ /^format:/,
	    '?format=yaml: 400 naming format');
	$r = $t->request(POST => "$P/slos", user => 'carol', json =>
	    native('two', indicators => [ { id => 'two-a' }, { id => 'two-b' } ]));
	is($r->{status}, 201, 'an SLO with two SLIs');
	$r = export_('two');
	ok($r->{status} == 400 && (body($r)->{message} // '') =~ /^format:.*has 2/,
	    'is not exported as OpenSLO (one SLI there): 400 naming format');
	is(export_('nope')->{status}, 404, 'an unknown SLO: 404');
};

subtest 'round trip: export, delete, import gives the same SLO' => sub {
	for my $w ('7d', '28d', '30d', 'calendar-month', 'calendar-week') {
		my $name = "rt-$w";
		my $orig = native($name, window => $w, target => 0.9995);
		my $r = $t->request(POST => "$P/slos", user => 'carol',
		    json => $orig);
		is($r->{status}, 201, "$w: created") or diag $r->{content};
		my $spec = body($r)->{spec};
		my $doc = body(export_($name));
		is(scalar @{ $doc->{spec}{timeWindow} }, 1, "$w: one time window");
		is($t->request(DELETE => "$P/slos/$name", user => 'carol')->{status},
		    204, "$w: deleted");
		$r = import_($doc);
		is($r->{status}, 201, "$w: imported") or diag $r->{content};
		is_deeply(body($r)->{spec}, $spec,
		    "$w: the same spec (target, window, indicator, names)");
		is_deeply(body(export_($name)), $doc, "$w: and the same export")
		    if $w ne 'calendar-week';
	}
	my $d = body(export_('rt-calendar-month'));
	is_deeply($d->{spec}{timeWindow}[0], { duration => '1M',
	    isRolling => JSON::PP::false, calendar => { startTime =>
	    '2024-01-01 00:00:00', timeZone => 'UTC' } },
	    'calendar-month is 1M, not rolling, from a 1st in UTC');
	$d = body(export_('rt-calendar-week'));
	is($d->{spec}{timeWindow}[0]{duration}, '1w', 'calendar-week is 1w');
	is($d->{spec}{timeWindow}[0]{calendar}{startTime}, '2024-01-01 00:00:00',
	    'from a Monday');
};

subtest 'import: a document another tool wrote' => sub {
	my $r = import_(openslo('search', edit => sub {
		my $s = $_[0]{spec};
		$s->{timeWindow} = [ { duration => '4w', isRolling => JSON::PP::true } ];
		$s->{objectives} = [ { targetPercent => 99.5 } ];
		my $rm = $s->{indicator}{spec}{ratioMetric};
		$rm->{bad} = delete $rm->{good};
	}));
	is($r->{status}, 201, 'created') or diag $r->{content};
	is($t->header($r, 'Location'), "$P/slos/search", 'Location');
	my $s = body($r)->{spec};
	is($s->{window}, '28d', '4w rolling is 28d');
	is($s->{target}, 0.995, 'targetPercent 99.5 is 0.995');
	is($s->{journey}, 'Search', 'the service is the journey');
	is($s->{experience}, 'Search', 'and, without the annotation, the experience');
	is($s->{display}{name}, 'Imported search', 'displayName');
	is($s->{description}, 'from elsewhere', 'description');
	is_deeply($s->{indicators}, [ { id => 'sli-search', display => {} } ],
	    'the SLI, with no display name given');
	is($t->psql("SELECT count(*) FROM sli WHERE project = 'shop' AND " .
	    "id = 'sli-search'"), 1, 'the SLI exists for points');
	$r = import_(openslo('search'));
	is($r->{status}, 409, 'importing it again with POST: 409 (PUT updates)');
	my $now = strftime('%Y-%m-%dT%H:%M:00Z', gmtime(time - 3600));
	$r = $t->request(POST => "$P/sli-points", user => 'carol', json =>
	    [ { sli => 'sli-search', t => $now, good => 9, bad => 1 } ]);
	is_deeply(body($r), { written => 1 }, 'points of the imported SLI are taken');
	is(body($t->request(GET => "$P/slos/search/status", user => 'bob'))->{sli},
	    0.9, 'and its status counts them');
};

subtest 'update with PUT ?format=openslo: locking as for the native PUT' => sub {
	my $doc = body(export_('checkout'));
	$doc->{spec}{objectives}[0]{target} = 0.99;
	my $r = $t->request(PUT => "$P/slos/checkout?format=openslo",
	    user => 'carol', json => $doc);
	is($r->{status}, 200, 'PUT with the exported dashcgi/version: 200')
	    or diag $r->{content};
	is(body($r)->{metadata}{version}, 1, 'version 1');
	is(body($r)->{spec}{target}, 0.99, 'the new target');
	$r = $t->request(PUT => "$P/slos/checkout?format=openslo",
	    user => 'carol', json => $doc);
	is($r->{status}, 409, 'the same stale document again: 409');
	is(body($r)->{code}, 'version_conflict', 'version_conflict');
	$r = $t->request(PUT => "$P/slos/checkout?format=openslo",
	    user => 'carol', json => $doc, headers => { 'If-Match' => '"0"' });
	is($r->{status}, 412, 'If-Match "0" (stale): 412');
	$r = $t->request(PUT => "$P/slos/checkout?format=openslo",
	    user => 'carol', json => $doc, headers => { 'If-Match' => '"1"' });
	is($r->{status}, 200, 'If-Match "1": 200') or diag $r->{content};
	delete $doc->{metadata}{annotations}{'dashcgi/version'};
	$r = $t->request(PUT => "$P/slos/checkout?format=openslo",
	    user => 'carol', json => $doc);
	ok($r->{status} == 428 && (body($r)->{message} // '') =~
	    m{metadata\.annotations\.dashcgi/version},
	    'neither: 428 naming the annotation') or diag $r->{content};
	$doc->{metadata}{annotations}{'dashcgi/version'} = 'v2';
	$r = $t->request(PUT => "$P/slos/checkout?format=openslo",
	    user => 'carol', json => $doc);
	refused($r, 'metadata.annotations.dashcgi/version', 'version "v2"');
	$doc->{metadata}{annotations}{'dashcgi/version'} = '2';
	$doc->{metadata}{name} = 'other';
	refused($t->request(PUT => "$P/slos/checkout?format=openslo",
	    user => 'carol', json => $doc), 'metadata.name', 'a rename');
	$doc->{metadata}{name} = 'nope';
	is($t->request(PUT => "$P/slos/nope?format=openslo", user => 'carol',
	    json => $doc)->{status}, 404, 'an unknown SLO: 404');
};

subtest 'import: each refusal names its field' => sub {
	my $n = 0;
	my $bad = sub {
		my ($field, $what, $edit) = @_;
		refused(import_(openslo('bad' . $n++, edit => $edit)), $field,
		    $what);
	};
	$bad->('spec.indicator.spec.thresholdMetric', 'a threshold SLI', sub {
		$_[0]{spec}{indicator}{spec} = { thresholdMetric =>
		    { metricSource => { type => 'Prometheus' } } } });
	$bad->('spec.indicator.spec.ratioMetric', 'no ratioMetric', sub {
		$_[0]{spec}{indicator}{spec} = {} });
	$bad->('spec.indicator.spec.ratioMetric.raw', 'a raw ratio', sub {
		$_[0]{spec}{indicator}{spec}{ratioMetric} = { rawType => 'success',
		    raw => { metricSource => {} } } });
	$bad->('spec.indicator.spec.ratioMetric.total', 'no total', sub {
		delete $_[0]{spec}{indicator}{spec}{ratioMetric}{total} });
	$bad->('spec.indicator.spec.ratioMetric.good', 'both good and bad', sub {
		my $rm = $_[0]{spec}{indicator}{spec}{ratioMetric};
		$rm->{bad} = $rm->{good} });
	$bad->('spec.indicatorRef', 'an SLI by reference', sub {
		delete $_[0]{spec}{indicator}; $_[0]{spec}{indicatorRef} = 'x' });
	$bad->('spec.indicator.metadata.name', 'an SLI id with capitals', sub {
		$_[0]{spec}{indicator}{metadata}{name} = 'Bad_Id' });
	$bad->('spec.timeWindow[0].duration', 'a 14d window', sub {
		$_[0]{spec}{timeWindow}[0]{duration} = '14d' });
	$bad->('spec.timeWindow[0].duration', 'a calendar quarter', sub {
		$_[0]{spec}{timeWindow} = [ { duration => '1Q',
		    isRolling => JSON::PP::false } ] });
	$bad->('spec.timeWindow[0].duration', 'a rolling month', sub {
		$_[0]{spec}{timeWindow}[0]{duration} = '1M' });
	$bad->('spec.timeWindow[0].calendar', 'a rolling window with a calendar', sub {
		$_[0]{spec}{timeWindow}[0]{calendar} = { timeZone => 'UTC' } });
	$bad->('spec.timeWindow[0].calendar.timeZone', 'a calendar in Berlin', sub {
		$_[0]{spec}{timeWindow} = [ { duration => '1M', isRolling =>
		    JSON::PP::false, calendar => { startTime => '2024-01-01 00:00:00',
		    timeZone => 'Europe/Berlin' } } ] });
	$bad->('spec.timeWindow[0].calendar.startTime', 'a month from the 15th', sub {
		$_[0]{spec}{timeWindow} = [ { duration => '1M', isRolling =>
		    JSON::PP::false, calendar => { startTime => '2024-01-15 00:00:00',
		    timeZone => 'UTC' } } ] });
	$bad->('spec.timeWindow[0].calendar.startTime', 'a week from a Tuesday', sub {
		$_[0]{spec}{timeWindow} = [ { duration => '1w', isRolling =>
		    JSON::PP::false, calendar => { startTime => '2024-01-02 00:00:00',
		    timeZone => 'UTC' } } ] });
	$bad->('spec.timeWindow', 'two windows', sub {
		push @{ $_[0]{spec}{timeWindow} }, { duration => '7d' } });
	$bad->('spec.budgetingMethod', 'Timeslices', sub {
		$_[0]{spec}{budgetingMethod} = 'Timeslices' });
	$bad->('spec.budgetingMethod', 'no budgeting method', sub {
		delete $_[0]{spec}{budgetingMethod} });
	$bad->('spec.objectives', 'two objectives', sub {
		push @{ $_[0]{spec}{objectives} }, { target => 0.9 } });
	$bad->('spec.objectives[0].target', 'target 1.2', sub {
		$_[0]{spec}{objectives}[0]{target} = 1.2 });
	$bad->('spec.objectives[0].targetPercent', 'targetPercent 100', sub {
		$_[0]{spec}{objectives} = [ { targetPercent => 100 } ] });
	$bad->('spec.objectives[0].op', 'a threshold objective', sub {
		$_[0]{spec}{objectives}[0]{op} = 'lte' });
	$bad->('spec.service', 'no service', sub { delete $_[0]{spec}{service} });
	$bad->('apiVersion', 'openslo/v1alpha', sub {
		$_[0]{apiVersion} = 'openslo/v1alpha' });
	$bad->('kind', 'kind SLI', sub { $_[0]{kind} = 'SLI' });
	$bad->('metadata.name', 'a name with a slash', sub {
		$_[0]{metadata}{name} = 'a/b' });
	$bad->('metadata.annotations.dashcgi/experience', 'an empty experience', sub {
		$_[0]{metadata}{annotations} = { 'dashcgi/experience' => '' } });
	$bad->('colour', 'an unknown top-level member', sub {
		$_[0]{colour} = 'red' });
	my $r = $t->request(POST => "$P/slos?format=openslo", user => 'carol',
	    body => "apiVersion: openslo/v1\nkind: SLO\n",
	    content_type => 'application/yaml');
	is($r->{status}, 415, 'a YAML body: 415 (OpenSLO is taken as JSON)');
	is($t->psql("SELECT count(*) FROM slo WHERE name LIKE 'bad%'"), 0,
	    'none of them was written');
};

subtest 'roles and audit' => sub {
	my $r = import_(openslo('by-viewer'), user => 'bob');
	is($r->{status}, 403, 'a viewer cannot import: 403');
	$r = import_(openslo('by-stranger'), user => 'alice');
	is($r->{status}, 404, 'a stranger does not see the project: 404');
	is(export_('checkout', 'alice')->{status}, 404,
	    'nor can a stranger export: 404');
	is($t->psql("SELECT string_agg(action || ':' || result || ':' || " .
	    "coalesce(details ->> 'format', '-'), ',' ORDER BY id) FROM audit_log " .
	    "WHERE project = 'shop' AND resource = 'search'"),
	    'slo.create:success:openslo', 'search: one audit row, marked openslo');
	is($t->psql("SELECT string_agg(action || ':' || result || ':' || " .
	    "coalesce(details ->> 'format', '-'), ',' ORDER BY id) FROM audit_log " .
	    "WHERE project = 'shop' AND resource = 'checkout'"),
	    'slo.create:success:-,slo.update:success:openslo,' .
	    'slo.update:success:openslo',
	    'checkout: the native create, then the two imports that changed it');
	like($t->psql("SELECT string_agg(action || ':' || result, ',') FROM " .
	    "audit_log WHERE actor = 'bob' AND action = 'slo.create'"),
	    qr/^slo\.create:denied$/, 'the refused viewer: a denied row');
};

done_testing;
