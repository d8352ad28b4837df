#!/usr/bin/perl
# What the release tarball and the packages are built from: every
# migration, every source file and every test file of the tree is named
# in Makefile.am.  A file left out builds here but not from the tarball
# (the .deb and .rpm are built from it), or is not installed (a
# migration).  Reads the source tree only.
use strict;
use warnings;
use Test::More;
use File::Find;

my $top = $ENV{DASHCGI_SRCDIR} // '.';
my $am = do { local (@ARGV, $/) = ("$top/Makefile.am"); <> };
my %named = map { $_ => 1 } $am =~ m{((?:src|migrations|t)/[\w./+-]+)}g;

my @files;
find({ no_chdir => 1, wanted => sub {
	my $f = substr($File::Find::name, length($top) + 1);
	push @files, $f if $f =~ m{^src/.*\.[ch]$} || $f =~ m{^migrations/\d{4}_\w+\.(?:up|down)\.sql$}
	    || $f =~ m{^t/\d\d-[\w-]+\.t$};
} }, "$top/src", "$top/migrations", "$top/t");

cmp_ok(scalar @files, '>', 100, scalar(@files) . ' sources, migrations and tests in the tree');
for my $f (sort @files) {
	ok($named{$f}, "$f is in Makefile.am");
}
done_testing;
