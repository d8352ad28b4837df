#!/usr/bin/perl
# One table of error codes (src/errors.c): every code the sources
# answer with is in it, with the status the sources use; every row is
# used; no code answers with two statuses.  Reads the sources only.
use strict;
use warnings;
use Test::More;
use File::Find;

my $src = ($ENV{DASHCGI_SRCDIR} // '.') . '/src';
my $table = do { local (@ARGV, $/) = ("$src/errors.c"); <> };
my %status;
while ($table =~ /\{\s*"([a-z_]+)",\s*(\d{3}),/g) {
	ok(!exists $status{$1}, "$1: one row") ;
	$status{$1} = $2;
}
cmp_ok(scalar keys %status, '>=', 15, scalar(keys %status) . ' codes in the table');

my (%used, @files);
find(sub { push @files, $File::Find::name if /\.c$/ && $_ ne 'errors.c' }, $src);
for my $f (sort @files) {
	my $text = do { local (@ARGV, $/) = ($f); <> };
	(my $rel = $f) =~ s{^\Q$src\E/}{src/};
	# http_error(r, 404, "not_found", ...) and http_error_obj(...).
	while ($text =~ /http_error(?:_obj)?\(\s*[&a-z>-]+,\s*(\d{3}),\s*"([a-z_]+)"/g) {
		my ($st, $code) = ($1, $2);
		$used{$code}++;
		is($status{$code} // 'absent', $st, "$rel: $code answered with $st: the table agrees");
	}
	# Codes chosen in a variable: "*code = "x"" and "? "x" : "y"" near http_error_obj.
	while ($text =~ /\*code = "([a-z_]+)"/g) {
		$used{$1}++;
		ok(exists $status{$1}, "$rel: $1 is in the table");
	}
	while ($text =~ /http_error_obj\([^;]*?"([a-z_]+)"\s*:\s*"([a-z_]+)"/gs) {
		for my $c ($1, $2) {
			$used{$c}++;
			ok(exists $status{$c}, "$rel: $c is in the table");
		}
	}
}
for my $code (sort keys %status) {
	ok($used{$code}, "$code is answered somewhere");
}
done_testing();
