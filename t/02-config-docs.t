#!/usr/bin/perl
# Every configuration key the code knows is documented: in the sample
# conf/dashcgi.yaml (set to its default, with its environment variable
# named in the comment above it) and in dashcgi.yaml(5) (an entry with
# its default and environment variable); every environment variable is
# in both man pages.  Nothing is documented that the code does not know.
#
# The key list comes from the binary (`dashcgi check-config`); the
# environment variables and the defaults as written come from the key
# table in src/config.c, and the binary confirms each variable really
# sets its key, so a misread table cannot make this test pass.
use strict;
use warnings;
use Test::More;
use DashTest;

my $t = DashTest->new(pg => 0, nginx => 0, migrate => 0, start => 0);
my $src = $t->srcdir;
my $tmp = $t->tmpdir;

sub slurp {
	my ($p) = @_;
	open(my $fh, '<', $p) or BAIL_OUT("cannot read $p: $!");
	local $/;
	return scalar <$fh>;
}

sub spew {
	my ($p, $c) = @_;
	open(my $fh, '>', $p) or BAIL_OUT("cannot write $p: $!");
	print $fh $c;
	close $fh or BAIL_OUT("cannot write $p: $!");
}

# check-config output -> ordered list of [key, value, source].
sub effective {
	my ($out) = @_;
	my @kv;
	for my $l (split /\n/, $out) {
		next unless $l =~ /^([a-z_][a-z_.]*): (.*?)  # (.+)$/;
		push @kv, [$1, $2, $3];
	}
	return @kv;
}

# --- what the code knows ---------------------------------------------

# A config that only sets the socket path (the brief's "one that sets a
# socket path"): every other key shows its default.
my $min = "$tmp/minimal.yaml";
spew($min, "listen: unix:$tmp/dashcgi.sock\n");
my ($rc, $out, $err) = $t->run_dashcgi({ no_config => 1 }, '-c', $min,
    'check-config');
is($rc, 0, 'check-config accepts a config that sets only the socket')
    or diag $err;
my @code = effective($out);
cmp_ok(scalar @code, '>=', 20, 'check-config lists the keys ('
    . scalar(@code) . ')');
spew("$tmp/empty.yaml", '');
($rc, $out, $err) = $t->run_dashcgi({ no_config => 1 }, '-c',
    "$tmp/empty.yaml", 'check-config');
is($rc, 0, 'check-config accepts an empty config') or diag $err;
my %default = map { $_->[0] => $_->[1] } effective($out);
my @keys = map { $_->[0] } @code;
is_deeply([grep { $_->[2] ne 'default' } @code],
    [['listen', "unix:$tmp/dashcgi.sock", "$min:1:9"]],
    'only listen comes from the file, every other key is a default');

# The key table: KEY("name", TYPE, field, "default", "ENV" | NULL, ...
my $table = slurp("$src/src/config.c");
my (%env, %written_default);
while ($table =~ /\bKEY\(\s*"([^"]+)"\s*,\s*\w+\s*,\s*[\w.]+\s*,\s*
    "((?:[^"\\]|\\.)*)"\s*,\s*(NULL|"([A-Z0-9_]+)")/gx) {
	my ($k, $d, $e) = ($1, $2, $4);
	$d =~ s/\\"/"/g;
	$written_default{$k} = $d;
	$env{$k} = $e if defined $e;
}
is_deeply([sort keys %written_default], [sort @keys],
    'src/config.c\'s key table and check-config list the same keys');
cmp_ok(scalar keys %env, '>=', 10, 'the table names environment variables ('
    . scalar(keys %env) . ')');

# The binary agrees: each variable sets its key.  Empty values are
# ignored by design, so an empty default gets a stand-in.
my %standin = ('database.url' => 'postgresql:///dashcgi',
    'database.password' => 'x',
    'database.migrate_url' => 'postgresql:///dashcgi?user=owner');
for my $k (sort keys %env) {
	(my $v = $standin{$k} // $default{$k}) =~ s/^"(.*)"$/$1/;
	my ($r, $o, $e) = $t->run_dashcgi({ no_config => 1,
	    env => { $env{$k} => $v } }, '-c', $min, 'check-config');
	my ($line) = grep { $_->[0] eq $k } effective($o);
	ok($r == 0 && $line && $line->[2] eq "env $env{$k}",
	    "$env{$k} overrides $k") or diag "exit $r: $o$e";
}

# --- conf/dashcgi.yaml -------------------------------------------------

my $sample = "$src/conf/dashcgi.yaml";
($rc, $out, $err) = $t->run_dashcgi({ no_config => 1 }, '-c', $sample,
    'check-config');
is($rc, 0, 'conf/dashcgi.yaml is valid') or diag $err;
my %in_sample = map { $_->[0] => $_ } effective($out);
my $sample_text = slurp($sample);
my @sample_lines = split /\n/, $sample_text;
for my $k (@keys) {
	my $s = $in_sample{$k};
	if (!$s || $s->[2] !~ /^\Q$sample\E:(\d+):\d+$/) {
		fail("conf/dashcgi.yaml sets $k");
		next;
	}
	my $line = $1;
	is($s->[1], $default{$k}, "conf/dashcgi.yaml sets $k to its default");
	next unless $env{$k};
	# The comment block right above the key names its variable.
	my $comment = '';
	for (my $i = $line - 2; $i >= 0 && $sample_lines[$i] =~ /^\s*#/; $i--) {
		$comment = "$sample_lines[$i]\n$comment";
	}
	like($comment, qr/\b\Q$env{$k}\E\b/,
	    "conf/dashcgi.yaml names $env{$k} above $k");
}

# --- dashcgi.yaml(5) ---------------------------------------------------

my $man5 = slurp("$src/doc/dashcgi.yaml.5");
my %entry;
{
	# Entries of the key list: ".It Ic key Pq ..." up to the next .It
	# or the end of the list.
	my ($list) = $man5 =~ /^\.Ss Keys\n(.*?)^\.Sh /ms;
	BAIL_OUT('dashcgi.yaml(5) has no "Keys" subsection') unless $list;
	while ($list =~ /^\.It Ic ([a-z_.]+)\b(.*?)(?=^\.It Ic |^\.El\s*\z)/gms) {
		$entry{$1} = $2;
	}
}
for my $k (@keys) {
	my $e = $entry{$k};
	ok($e, "dashcgi.yaml(5) has an entry for $k") or next;
	# "Default:" then the value on the next line as .Ql/.Qq/.Li, or
	# an empty .Qq for "".
	my ($d) = $e =~ /Default:\n\.(?:Ql|Qq|Li)(?: ([^\n]*?))?(?: [.,;])?\n/;
	$d //= '';
	$d = qq("$d") if $e =~ /Default:\n\.Qq/;
	my $want = $written_default{$k};
	$want = qq("") if $want eq '""';
	is($d, $want, "dashcgi.yaml(5) gives $k\'s default");
	if ($env{$k}) {
		like($e, qr/^\.Ev \Q$env{$k}\E\b/m,
		    "dashcgi.yaml(5) names $env{$k} in the $k entry");
	}
}
my %known = map { $_ => 1 } @keys;
is_deeply([grep { !$known{$_} } sort keys %entry], [],
    'dashcgi.yaml(5) documents no key the code lacks');

# --- environment variables in both pages -----------------------------

my $man8 = slurp("$src/doc/dashcgi.8");
my %code_env = map { $_ => 1 } values %env;
for my $page (['dashcgi.yaml(5)', $man5], ['dashcgi(8)', $man8]) {
	my ($name, $text) = @$page;
	my ($sect) = $text =~ /^\.Sh ENVIRONMENT\n(.*?)^\.Sh /ms;
	ok($sect, "$name has an ENVIRONMENT section") or next;
	for my $e (sort keys %code_env) {
		like($sect, qr/\b\Q$e\E\b/, "$name ENVIRONMENT lists $e");
	}
	# Any DB_* or DATABASE_URL listed must exist in the code.
	my %listed = map { $_ => 1 } $sect =~ /\b(DB_[A-Z_]+|DATABASE_URL)\b/g;
	is_deeply([grep { !$code_env{$_} } sort keys %listed], [],
	    "$name ENVIRONMENT lists no variable the code lacks");
}

done_testing;
