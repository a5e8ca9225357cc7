# frozen_string_literal: true

# Calls the real servers from Ruby through code generated from the protos
# (grpc_tools_ruby_protoc: messages and service stubs) with Debian's
# ruby-grpc, ruby-google-protobuf and ruby-googleapis-common-protos-types
# (google.api, google.rpc, google.type), the way a Ruby application would.
#
# Run by CTest (test `ruby_client`) through run_test.sh, which generates the
# code into build/gen-ruby (put on the load path with -I) and sets
#   CSTOPA_<SERVICE>_SERVER  path of each server binary (MEMBERSHIP,
#                            LEGISLATION, EVENTS, MONITORING, GATEWAY)
#
# Each server runs on a free loopback port (--listen=127.0.0.1:0, the port
# read from --port_file) with an in-memory SQLite store, seeded; the gateway
# runs in front of its own four. Every server is stopped at exit.

require 'minitest/autorun'
require 'tmpdir'
require 'grpc'
require 'google/protobuf/well_known_types'
require 'google/rpc/error_details_pb'
require 'google/rpc/status_pb'
require 'cstopa/membership/v1/membership_services_pb'
require 'cstopa/legislation/v1/legislation_services_pb'
require 'cstopa/events/v1/events_services_pb'
require 'cstopa/monitoring/v1/monitoring_services_pb'
require 'cstopa/gateway/v1/gateway_services_pb'

RPC_TIMEOUT = 10
START_TIMEOUT = 30

# The server binaries started by this run, stopped at exit.
module Servers
  TMP = Dir.mktmpdir('cstopa-ruby-')
  @running = []

  # Starts `bin` and returns "127.0.0.1:<port>" once it serves.
  def self.start(name, bin, *args)
    raise "the server binary of #{name} is not set" if bin.nil? || bin.empty?

    port_file = File.join(TMP, "#{name}.ports")
    log = File.join(TMP, "#{name}.log")
    pid = Process.spawn(bin, '--listen=127.0.0.1:0', '--admin_listen=',
                        "--port_file=#{port_file}", '--access_log=off', *args,
                        out: File::NULL, err: log)
    @running << pid
    deadline = Time.now + START_TIMEOUT
    while Time.now < deadline
      raise "#{name} exited: #{File.read(log)}" if Process.waitpid(pid, Process::WNOHANG)

      if File.exist?(port_file) && (m = /"grpc_port":(\d+)/.match(File.read(port_file)))
        return "127.0.0.1:#{m[1]}"
      end
      sleep 0.1
    end
    raise "#{name} did not start: #{File.read(log)}"
  end

  def self.stop_all
    @running.each { |pid| Process.kill('TERM', pid) rescue nil } # rubocop:disable Style/RescueModifier
    @running.each do |pid|
      deadline = Time.now + 15
      until Process.waitpid(pid, Process::WNOHANG)
        if Time.now > deadline
          Process.kill('KILL', pid)
          Process.waitpid(pid)
          break
        end
        sleep 0.1
      end
    rescue Errno::ECHILD
      next
    end
    FileUtils.rm_rf(TMP)
  end
end
Minitest.after_run { Servers.stop_all }

def server_bin(service)
  ENV.fetch("CSTOPA_#{service.upcase}_SERVER")
end

# The text of `texts` (repeated LocalizedText) in `lang`.
def text(texts, lang = 'en')
  texts.find { |t| t.language_code == lang }&.text
end

# The details of a failed call's google.rpc.Status, each unpacked to its
# google.rpc type (a detail of another type fails the test).
def unpacked_details(err)
  status = err.to_rpc_status
  refute_nil status, 'no grpc-status-details-bin'
  assert_equal err.code, status.code
  status.details.map do |any|
    type = Google::Protobuf::DescriptorPool.generated_pool
                                           .lookup(any.type_name)&.msgclass
    refute_nil type, "unknown detail type #{any.type_url}"
    any.unpack(type)
  end
end

M = Cstopa::Membership::V1
G = Cstopa::Gateway::V1
L = Cstopa::Legislation::V1

class MembershipClientTest < Minitest::Test
  def self.stub
    @stub ||= M::MembershipService::Stub.new(
      Servers.start('membership', server_bin('membership'), '--store=sqlite::memory:'),
      :this_channel_is_insecure, timeout: RPC_TIMEOUT
    )
  end

  def stub = self.class.stub

  def test_get_state_reads_a_seeded_state_with_its_status
    kz = stub.get_state(M::GetStateRequest.new(name: 'states/kz'))
    assert_equal 'states/kz', kz.name
    assert_equal 'Kazakhstan', text(kz.display_name)
    assert_equal :MEMBERSHIP_STATUS_MEMBER, kz.current_status
    refute_empty kz.provenance
    refute_empty kz.etag
    refute_nil kz.create_time
  end

  def test_list_states_pages_through_every_state_once
    names = []
    token = ''
    pages = 0
    loop do
      page = stub.list_states(M::ListStatesRequest.new(
                                page_size: 4, page_token: token,
                                as_of: Google::Type::Date.new(year: 2024, month: 6, day: 1)
                              ))
      assert_operator page.states.size, :<=, 4
      names.concat(page.states.map(&:name))
      pages += 1
      token = page.next_page_token
      break if token.empty? || pages > 10
    end
    assert_equal 2, pages
    assert_equal 6, names.uniq.size, names.inspect
    assert_equal names.size, names.uniq.size, names.inspect
    assert_includes names, 'states/kg'
  end

  def test_unknown_state_is_not_found_with_error_info_and_resource_info
    err = assert_raises(GRPC::NotFound) do
      stub.get_state(M::GetStateRequest.new(name: 'states/no-such-state'))
    end
    details = unpacked_details(err)
    infos = details.grep(Google::Rpc::ErrorInfo)
    assert_equal ['RESOURCE_NOT_FOUND'], infos.map(&:reason), details.inspect
    refute_empty infos.first.domain
    resources = details.grep(Google::Rpc::ResourceInfo)
    assert_equal [['cstopa.org/State', 'states/no-such-state']],
                 resources.map { |r| [r.resource_type, r.resource_name] },
                 details.inspect
  end
end

class GatewayClientTest < Minitest::Test
  SECTIONS = %w[membership legislation events missions operations].freeze
  TREATY = 'treaties/jurisdiction-temporary-deployment-2021'

  def self.stub
    @stub ||= begin
      targets = %w[membership legislation events monitoring].map do |svc|
        target = Servers.start("gateway-#{svc}", server_bin(svc), '--store=sqlite::memory:')
        "--#{svc}_target=ipv4:#{target}"
      end
      G::GatewayService::Stub.new(
        Servers.start('gateway', server_bin('gateway'), *targets),
        :this_channel_is_insecure, timeout: RPC_TIMEOUT
      )
    end
  end

  def stub = self.class.stub

  def state_profile(name, year, month, day)
    p = stub.get_state_profile(G::GetStateProfileRequest.new(
                                 name: name,
                                 as_of: Google::Type::Date.new(year: year, month: month, day: day)
                               ))
    assert_equal SECTIONS, p.sections.map(&:section)
    p.sections.each do |s|
      assert s.complete, "section #{s.section} (#{s.service}): #{s.status.inspect}"
    end
    p
  end

  def test_state_profile_has_the_seats_on_the_date
    before = state_profile('states/kg/profile', 2022, 6, 1)
    # Between the source giving 6 seats (2022) and the one giving 7 (2024).
    between = state_profile('states/kg/profile', 2023, 6, 1)
    after = state_profile('states/kg/profile', 2025, 6, 1)
    [before, between, after].each do |p|
      assert_equal 'states/kg/profile', p.name
      assert_equal 'states/kg', p.state.name
      assert_equal 1, p.delegations.size
    end
    assert_equal [2022, 6, 1], [before.as_of_date.year, before.as_of_date.month, before.as_of_date.day]
    assert_equal 6, before.delegations[0].total_seats
    assert_equal :AS_OF_KNOWLEDGE_KNOWN, before.delegations[0].seats_knowledge
    assert_equal 7, after.delegations[0].total_seats
    assert_equal :AS_OF_KNOWLEDGE_KNOWN, after.delegations[0].seats_knowledge
    # Not known on 2023-06-01: no seats counted, and it says so.
    assert_equal 0, between.delegations[0].total_seats
    assert_equal :AS_OF_KNOWLEDGE_NOT_KNOWN, between.delegations[0].seats_knowledge
  end

  def test_state_profile_has_the_treaty_ratification
    kz = state_profile('states/kz/profile', 2024, 6, 1)
    treaty = kz.treaties.find { |t| t.treaty == TREATY }
    refute_nil treaty, kz.treaties.map(&:treaty).inspect
    assert_equal :RATIFICATION_STATUS_BILL_INTRODUCED, treaty.party.status
    assert_match(/Jurisdiction/, text(treaty.title))
  end

  def test_unknown_person_profile_is_not_found_with_details
    err = assert_raises(GRPC::NotFound) do
      stub.get_person_profile(G::GetPersonProfileRequest.new(name: 'persons/nobody/profile'))
    end
    infos = unpacked_details(err).grep(Google::Rpc::ErrorInfo)
    assert_equal ['RESOURCE_NOT_FOUND'], infos.map(&:reason)
  end
end
