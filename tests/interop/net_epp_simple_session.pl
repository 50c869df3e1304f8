#!/usr/bin/perl
# The same session as net_epp_session.pl, but through Net::EPP::Simple's high-level API
# (libnet-epp-perl), which builds its own frames. See README.md beside this file.
#
# usage: net_epp_simple_session.pl [--ca-file F] [--cert F --key F] [--tld T] [--ping] [--debug]
#                                  HOST PORT CLID PASSWORD CLID2 PASSWORD2
#   --ping   keep Net::EPP::Simple's default reconnect=3, which sends a <hello> before
#            every command (the server must answer <hello> with a <greeting> mid-session)
use strict;
use warnings;
use Getopt::Long;
use Net::EPP::Simple;

my %opt = (tld => 'test');
GetOptions(\%opt, 'ca-file=s', 'cert=s', 'key=s', 'tld=s', 'ping', 'debug') or die "bad options\n";
die "usage: $0 [options] HOST PORT CLID PW CLID2 PW2\n" unless @ARGV == 6;
my ($host, $port, $clid, $pw, $clid2, $pw2) = @ARGV;

my $tag     = sprintf('%x%04x', time() % 0xffffff, $$ % 0xffff);
my $domain  = "simple-$tag.$opt{tld}";
my $contact = "sc$tag";
my $ns      = "ns1.simple-$tag.example.net";
my ($auth1, $auth2) = ("Auth-1-$tag", "Auth-2-$tag");

sub check {
    my ($label, $what, $ok, @codes) = @_;
    my $code = $Net::EPP::Simple::Code // 'undef';
    printf "%-8s %-14s %s %s\n", $label, $what, $code, $Net::EPP::Simple::Message // '';
    if (!$ok || !grep { $code eq $_ } @codes) {
        print "FAIL: $label $what: $Net::EPP::Simple::Error\n";
        exit 1;
    }
}

sub session {
    my ($label, $user, $pass) = @_;
    my $epp = Net::EPP::Simple->new(
        host        => $host,
        port        => $port,
        user        => $user,
        pass        => $pass,
        timeout     => 20,
        stdobj      => 1,                      # login objURIs: domain/contact/host only
        extensions  => [],                     # login extURIs: none (default echoes greeting)
        reconnect   => ($opt{ping} ? 3 : 0),   # 0 = no <hello> before each command
        load_config => 0,                      # ignore ~/.net-epp-simple-rc
        ($opt{'ca-file'} ? (verify => 1, ca_file => $opt{'ca-file'}) : ()),
        ($opt{cert} ? (cert => $opt{cert}, key => $opt{key} || $opt{cert}) : ()),
        ($opt{debug} ? (debug => 1) : ()),
    );
    check($label, 'connect+login', $epp, 1000);
    return $epp;
}

print "domain=$domain contact=$contact host=$ns\n";
my $e1 = session('reg1', $clid, $pw);

check('reg1', 'contact:create', $e1->create_contact({
    id         => $contact,
    postalInfo => { int => { name => 'Simple Interop', org => 'Net::EPP::Simple test',
                             addr => { street => ['1 Test Street'], city => 'Testville',
                                       sp => 'BE', pc => '12345', cc => 'DE' } } },
    voice      => '+49.3012345678',
    fax        => '',
    email      => 'simple-interop@example.net',
    authInfo   => $auth1,
}), 1000);

check('reg1', 'host:create', $e1->create_host({ name => $ns, addrs => [] }), 1000);

check('reg1', 'domain:create', $e1->create_domain({
    name => $domain, period => 1, registrant => $contact,
    contacts => { admin => $contact, tech => $contact }, ns => [$ns], authInfo => $auth1,
}), 1000);

my $info = $e1->domain_info($domain);
check('reg1', 'domain:info', $info, 1000);
print "           clID=$info->{clID} exDate=", ($info->{exDate} // '-'), "\n";
my ($cur) = ($info->{exDate} // '') =~ /^(\d{4}-\d{2}-\d{2})/;
die "FAIL: no exDate in domain:info\n" unless $cur;

check('reg1', 'domain:update', $e1->update_domain({
    name => $domain, add => { status => ['clientHold'] }, chg => { authInfo => $auth2 },
}), 1000);
check('reg1', 'domain:update', $e1->update_domain({ name => $domain, rem => { status => ['clientHold'] } }), 1000);
check('reg1', 'domain:renew', $e1->renew_domain({ name => $domain, cur_exp_date => $cur, period => 1 }), 1000);

my $e2 = session('reg2', $clid2, $pw2);
# period must be passed: with undef, Simple sends <domain:period unit="y">0</domain:period>
my $trn = $e2->domain_transfer_request($domain, $auth2, 1);
check('reg2', 'transfer:req', $trn, 1001);
print "           trStatus=$trn->{trStatus}\n";
check('reg1', 'transfer:apr', $e1->domain_transfer_approve($domain), 1000);
my $after = $e2->domain_info($domain);
check('reg2', 'domain:info', $after, 1000);
die "FAIL: after the transfer the sponsor is $after->{clID}, not $clid2\n" unless $after->{clID} eq $clid2;
check('reg2', 'domain:delete', $e2->delete_domain($domain), 1000, 1001);

# logout() sends <logout> but never parses the reply ($Code stays undef): only its return
# value (true if any frame came back) can be checked.
for ([reg2 => $e2], [reg1 => $e1]) {
    my ($label, $epp) = @$_;
    printf "%-8s %-14s %s\n", $label, 'logout', $epp->logout ? 'ok (reply not parsed by Simple)' : 'FAILED';
}
print "OK: all commands returned the expected codes\n";
exit 0;
