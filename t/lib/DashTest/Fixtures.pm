package DashTest::Fixtures;
# DashTest::Fixtures -- what many test files need besides the servers:
# checking an error answer, decoding a body, a small valid Perses
# dashboard, and projects with members.  One copy, instead of one per
# test file.
#
#   use DashTest::Fixtures;
#   my $j = is_error($r, 409, 'version_conflict', 'a stale save');
#   my $doc = dashboard_doc('api', project => 'p1', version => 3);
#   $t->psql(project_sql('p1', bob => 'viewer', carol => 'editor'));
use strict;
use warnings;
use Exporter 'import';
use JSON::PP ();
use Test::More;

our @EXPORT = qw(is_error json_body dashboard_doc project_sql);

# The decoded JSON body of a response, or undef when it is none.
sub json_body {
	my ($r) = @_;
	return eval { JSON::PP->new->decode($r->{content} // '') };
}

# An error answer: its status and its code ({"status","code","message"}).
# Returns the decoded body ({} when it is not JSON).
sub is_error {
	my ($r, $status, $code, $name) = @_;
	is($r->{status}, $status, "$name: $status") or diag $r->{content};
	my $j = json_body($r) // {};
	is($j->{code}, $code, "$name: error $code");
	return $j;
}

# A valid Perses dashboard with one time-series panel in a grid.
# Options: project, version, display, tags.
sub dashboard_doc {
	my ($name, %o) = @_;
	my %meta = (name => $name);
	$meta{project} = $o{project} if defined $o{project};
	$meta{version} = $o{version} if defined $o{version};
	$meta{tags} = $o{tags} if $o{tags};
	return { kind => 'Dashboard', metadata => \%meta, spec => {
	    display => { name => $o{display} // "Dashboard $name" },
	    duration => '1h',
	    panels => { p1 => { kind => 'Panel', spec => {
		plugin => { kind => 'TimeSeriesChart', spec => {} } } } },
	    layouts => [ { kind => 'Grid', spec => { items => [ { x => 0,
		y => 0, width => 12, height => 6,
		content => { '$ref' => '#/spec/panels/p1' } } ] } } ] } };
}

# SQL that makes a project and gives users their roles in it.
sub project_sql {
	my ($project, %members) = @_;
	my $sql = "INSERT INTO project (name, display, created_by, updated_by) "
	    . "VALUES ('$project', '{}', 'test', 'test');\n";
	for my $u (sort keys %members) {
		$sql .= "INSERT INTO project_member (project, user_name, role, "
		    . "created_by, updated_by) VALUES ('$project', '$u', "
		    . "'$members{$u}', 'test', 'test');\n";
	}
	return $sql;
}

1;
