#!/usr/bin/perl
# Real, public Perses dashboards (t/data/perses-corpus, origins in its
# SOURCES) through nginx: each is created in a project under a name of
# its own, read back with its spec exactly as sent (a deep compare in
# which numbers are compared by value, exactly: big integers and
# decimals as Math::BigInt/BigFloat, never as doubles), and saved again
# unchanged (PUT with metadata.version 0), as percli apply would.
# What a stock Perses server accepts, dashcgi must accept and keep.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use B ();
use Scalar::Util qw(blessed);
use Math::BigFloat ();
use DashTest;

my $t = DashTest->new(workers => 2);
my $dir = $t->srcdir . '/t/data/perses-corpus';
my $P = '/api/v1/projects/corpus/dashboards';

# The machine code of an error body, before and after the rename of
# "error" to "code".

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('corpus', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('corpus', 'alice', 'editor', 't', 't');
SQL

# Exact numbers: every decimal a Math::BigFloat, long integers BigInts.
my $JSON = JSON::PP->new->utf8->canonical->allow_bignum;

sub is_num {
	my ($x) = @_;
	return 1 if blessed $x &&
	    ($x->isa('Math::BigInt') || $x->isa('Math::BigFloat'));
	return 0 if ref $x;
	my $f = B::svref_2object(\$x)->FLAGS;
	return ($f & (B::SVf_IOK | B::SVf_NOK)) && !($f & B::SVf_POK);
}

# undef when equal, else the JSON pointer of the first difference.
sub diff {
	my ($a, $b, $at) = @_;
	my $an = is_num($a);
	if ($an || is_num($b)) {
		return $at unless $an && is_num($b);
		return Math::BigFloat->new("$a")->bcmp(Math::BigFloat->new("$b")) == 0 ?
		    undef : $at;
	}
	return (defined $a || defined $b ? $at : undef)
	    unless defined $a && defined $b;
	if (JSON::PP::is_bool($a) || JSON::PP::is_bool($b)) {
		return JSON::PP::is_bool($a) && JSON::PP::is_bool($b) &&
		    !!$a == !!$b ? undef : $at;
	}
	if (ref $a eq 'HASH') {
		return $at unless ref $b eq 'HASH' && keys %$a == keys %$b;
		for my $k (sort keys %$a) {
			return "$at/$k" unless exists $b->{$k};
			my $d = diff($a->{$k}, $b->{$k}, "$at/$k");
			return $d if defined $d;
		}
		return undef;
	}
	if (ref $a eq 'ARRAY') {
		return $at unless ref $b eq 'ARRAY' && @$a == @$b;
		for my $i (0 .. $#$a) {
			my $d = diff($a->[$i], $b->[$i], "$at/$i");
			return $d if defined $d;
		}
		return undef;
	}
	return ref $b || $a ne $b ? $at : undef;
}

# The comparison itself must tell what it claims to.
ok(!defined diff($JSON->decode('{"a":[1,1.50,"x",true,null,123456789012345678901234567890]}'),
    $JSON->decode('{"a":[1,1.5,"x",true,null,123456789012345678901234567890]}'), ''),
    'diff: equal values are equal (1.50 is 1.5)');
is(diff($JSON->decode('[9007199254740993]'), $JSON->decode('[9007199254740992]'), ''),
    '/0', 'diff: integers differing past double precision differ');
is(diff($JSON->decode('[0.1000000000000000000001]'), $JSON->decode('[0.1]'), ''),
    '/0', 'diff: decimals differing past double precision differ');
is(diff($JSON->decode('["1"]'), $JSON->decode('[1]'), ''), '/0',
    'diff: a string is not a number');
is(diff($JSON->decode('[true]'), $JSON->decode('[1]'), ''), '/0',
    'diff: true is not 1');

opendir(my $dh, $dir) or die "$dir: $!";
my @files = sort grep { /\.json\z/ } readdir $dh;
closedir $dh;
cmp_ok(scalar @files, '>=', 100, 'at least 100 corpus documents');

my ($created, $same, $saved, $n) = (0, 0, 0, 0);
my @refused;
for my $f (@files) {
	my $name = sprintf('corpus-%03d', ++$n);
	open(my $fh, '<:raw', "$dir/$f") or die "$f: $!";
	my $doc = $JSON->decode(do { local $/; <$fh> });
	close $fh;
	$doc->{metadata}{name} = $name;
	$doc->{metadata}{project} = 'corpus';
	my $r = $t->request(POST => $P, user => 'alice',
	    body => $JSON->encode($doc));
	if ($r->{status} != 200) {
		my $j = eval { $JSON->decode($r->{content}) } // {};
		push @refused, "$f: $r->{status} " . ($j->{code} // '') .
		    ' ' . ($j->{message} // $r->{content});
		next;
	}
	$created++;
	$r = $t->request(GET => "$P/$name", user => 'alice');
	my $back = $r->{status} == 200 ? $JSON->decode($r->{content}) : {};
	my $d = diff($doc->{spec}, $back->{spec}, '/spec');
	if (defined $d) {
		diag "$f: the spec read back differs at $d";
	} else {
		$same++;
	}
	$back->{metadata}{version} = 0;
	$r = $t->request(PUT => "$P/$name", user => 'alice',
	    body => $JSON->encode($back));
	if ($r->{status} == 200) {
		my $again = $JSON->decode($r->{content});
		$saved++ unless defined diff($doc->{spec}, $again->{spec}, '/spec');
	} else {
		diag "$f: saving it unchanged answers $r->{status}: $r->{content}";
	}
}
diag "refused: $_" for @refused;
note sprintf('%d documents: %d accepted, %d refused; %d read back with '
    . 'the spec unchanged (%d round-trip differences); %d saved again '
    . 'unchanged', scalar @files, $created, scalar @refused, $same,
    $created - $same, $saved);
is($created, scalar @files, 'every corpus document is accepted');
is($same, $created, 'every spec reads back exactly as sent');
is($saved, $created, 'every dashboard saves again unchanged (PUT, version 0)');

# The two normalisations Perses makes, through create and read.
subtest 'normalised as Perses stores it' => sub {
	my $doc = $JSON->decode('{"kind":"dashBoard","metadata":{"name":'
	    . '"normalised","project":"corpus","tags":["b","a","b","a"]},'
	    . '"spec":{"duration":"1h"}}');
	my $r = $t->request(POST => $P, user => 'alice',
	    body => $JSON->encode($doc));
	is($r->{status}, 200, 'kind in another case and duplicate tags: 200')
	    or diag $r->{content};
	my $back = $r->{status} == 200 ? $JSON->decode($r->{content}) : {};
	is($back->{kind}, 'Dashboard', 'kind is "Dashboard"');
	is_deeply($back->{metadata}{tags}, [ 'b', 'a' ],
	    'duplicate tags are dropped, first of each kept');
};

done_testing();
