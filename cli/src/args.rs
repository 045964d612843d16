//! The command line: clap definitions (noun-verb) with their help texts, and
//! nothing else, so that every command module can take its arguments from
//! here without depending on another.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// KX: the service-exchange registry of the municipal IT providers in NRW.
///
/// Exit codes: 0 success, 1 failure (I/O, node unreachable, bad key file),
/// 2 usage error, 3 record invalid or rejected by the node (message starts with
/// the error code).
#[derive(Debug, Parser)]
#[command(name = "kx", version, about, long_about)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Base URL of the node's HTTP API.
    #[arg(
        long,
        global = true,
        env = "KX_NODE",
        default_value = "http://127.0.0.1:7300"
    )]
    pub node: String,
    /// Read the passphrase of encrypted key files from this file (its first line
    /// break is dropped) instead of `KX_PASSPHRASE` or a prompt.
    #[arg(long, global = true, env = "KX_PASSPHRASE_FILE", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Signing keys (ed25519): create, inspect, encrypt at rest.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Federation governance by the stewards.
    #[command(subcommand)]
    Federation(FederationCommand),
    /// The provider's capability statement.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Service offers: publish, withdraw, search, show.
    #[command(subcommand)]
    Offer(OfferCommand),
    /// Providers of the federation.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Demand (Bedarfsmeldungen) of municipalities and providers.
    #[command(subcommand)]
    Demand(DemandCommand),
    /// Requests for one offer (Abrufe): send, answer, withdraw, list.
    #[command(subcommand)]
    Request(RequestCommand),
    /// Agreements (accepted requests): list, end.
    #[command(subcommand)]
    Agreement(AgreementCommand),
    /// Municipalities as buyers: what each takes from whom.
    #[command(subcommand)]
    Municipality(MunicipalityCommand),
    /// The transition in figures: offers, demand, gaps and agreements per Kreis
    /// and category, break-even, agreements per month.
    Transition(TransitionArgs),
    /// The stewards' standard portfolio: each standard's criteria and how many
    /// offers declare and meet it.
    Standards,
    /// Signed records: fetch and verify.
    #[command(subcommand)]
    Record(RecordCommand),
    /// Market surveys for the procurement file: export, verify offline.
    #[command(subcommand)]
    Survey(SurveyCommand),
    /// The node itself.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Start a local demo federation of NRW providers with real data (Ctrl-C stops).
    Demo(DemoArgs),
}

/// PBKDF2 cost of an encrypted key file.
#[derive(Debug, Args)]
pub struct IterationsArg {
    /// PBKDF2-HMAC-SHA256 iterations (1000 to 10000000); lower than the default
    /// only for throwaway keys.
    #[arg(id = "iterations", long = "iterations", default_value_t = kx_protocol::keyfile::DEFAULT_ITERATIONS)]
    pub count: u32,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new key file (mode 0600), encrypted with a passphrase, and print
    /// its did. The passphrase comes from --passphrase-file, KX_PASSPHRASE or a
    /// prompt (asked twice); at least 8 characters.
    Gen {
        /// Where to write the key; refuses to overwrite an existing file.
        #[arg(long)]
        out: PathBuf,
        /// Write the key in plain text (every later use warns).
        #[arg(long, conflicts_with = "iterations")]
        unencrypted: bool,
        #[command(flatten)]
        iterations: IterationsArg,
    },
    /// Print the did a key file names (no passphrase needed; an encrypted file's
    /// did is checked against the key whenever it is opened).
    Show {
        /// The key file.
        file: PathBuf,
    },
    /// Encrypt a plain key file in place with a passphrase.
    Encrypt {
        /// The key file.
        file: PathBuf,
        #[command(flatten)]
        iterations: IterationsArg,
    },
    /// Decrypt an encrypted key file in place (plain text; prefer keeping it
    /// encrypted).
    Decrypt {
        /// The key file.
        file: PathBuf,
    },
    /// Move a provider to a new key (signed with the old key). Records signed with
    /// the old key afterwards are refused; identity, offers and history stay.
    Rotate {
        /// The current key file.
        #[arg(long)]
        key: PathBuf,
        /// The new key file (`kx key gen`).
        #[arg(long)]
        new_key: PathBuf,
        #[command(flatten)]
        out: OutArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// Sign the genesis of a new federation with the steward keys.
    Init(InitArgs),
    /// Admit a provider (approved by the steward keys given; a draft collects
    /// the rest of the threshold).
    Admit(AdmitArgs),
    /// Admit municipalities as buyers, each key bound to its 8-digit AGS: one
    /// with --ags and --member, or many in one action with --csv.
    AdmitMunicipality(AdmitMunicipalityArgs),
    #[command(flatten)]
    Gov(GovCommand),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Name of the federation, e.g. "KDN Dienstleistungsaustausch NRW".
    #[arg(long)]
    pub name: String,
    /// Key file of a steward; repeat for each steward. All of them approve the
    /// genesis; the first one signs it.
    #[arg(long = "steward-key", required = true)]
    pub steward_keys: Vec<PathBuf>,
    /// How many stewards must approve later governance actions (default: all).
    #[arg(long)]
    pub threshold: Option<u64>,
    /// Where to write the genesis record.
    #[arg(long)]
    pub out: PathBuf,
}

/// Where a signed record goes.
#[derive(Debug, Args)]
pub struct OutArgs {
    /// Write the signed record to this file instead of submitting it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AdmitArgs {
    /// The provider's did (`kx key show` of its key).
    #[arg(long)]
    pub provider: String,
    /// The provider's name.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub gov: GovArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["ags", "csv"])))]
pub struct AdmitMunicipalityArgs {
    /// The municipality's AGS (8 digits, e.g. 05774032 for Paderborn).
    #[arg(long, requires = "member", conflicts_with = "csv")]
    pub ags: Option<String>,
    /// The did of the municipality's key (`kx key show` on its side).
    #[arg(long)]
    pub member: Option<String>,
    /// Its name (default: the official name for the AGS).
    #[arg(long, conflicts_with = "csv")]
    pub name: Option<String>,
    /// A CSV file with a header row and the columns `ags,did` and optionally
    /// `name`: all of them in one action, approved once.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    #[command(flatten)]
    pub gov: GovArgs,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Sign and submit a provider profile written as TOML (see examples/profile.toml).
    Publish {
        /// The provider's key file.
        #[arg(long)]
        key: PathBuf,
        /// The profile (TOML).
        file: PathBuf,
        #[command(flatten)]
        out: OutArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum OfferCommand {
    /// Sign and submit an offer written as TOML (see examples/offer.toml), or a
    /// whole portfolio as a CSV or XLSX sheet, one row per offer (see
    /// examples/offers.csv): every row is checked first, then the changed
    /// offers are signed as one batch. Without `version`, the next version
    /// after the node's is used.
    Publish {
        /// The provider's key file.
        #[arg(long)]
        key: PathBuf,
        /// The offer (TOML) or the sheet (.csv, .xlsx).
        file: PathBuf,
        /// With `--out` and a sheet: every signed record, one per line.
        #[command(flatten)]
        out: OutArgs,
    },
    /// Write a provider's current offers (not withdrawn) as a sheet in the
    /// columns `publish` reads: CSV, or XLSX if `--out` ends in .xlsx.
    Export {
        /// The provider's did.
        #[arg(long)]
        provider: String,
        /// The file to write (default: CSV to standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Withdraw an offer (its current version and all before it).
    Withdraw {
        /// The provider's key file.
        #[arg(long)]
        key: PathBuf,
        /// The offer id.
        offer_id: String,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Search offers.
    Search(SearchArgs),
    /// Compare two to four offers side by side: PROVIDER/OFFER_ID ... With a
    /// municipality, the cheapest over five years first.
    Compare {
        /// `did:key:.../offer-id`, two to four times.
        #[arg(num_args = 2..=4, required = true)]
        references: Vec<String>,
        #[command(flatten)]
        buyer: BuyerArgs,
    },
    /// As a successor, retire an offer inherited in a merger, optionally in
    /// favour of your own offer (its agreements move to it on their terms).
    Consolidate {
        /// The successor's key file.
        #[arg(long)]
        key: PathBuf,
        /// The inherited offer: PREDECESSOR_DID/OFFER_ID.
        offer: String,
        /// Your offer id that replaces it.
        #[arg(long)]
        replacement: Option<String>,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Show one offer: PROVIDER/OFFER_ID (provider did). With a municipality:
    /// its contact, whether it may take the offer without a tender, and the
    /// first-year and five-year cost worked out.
    Show {
        /// `did:key:.../offer-id`
        reference: String,
        /// Include every version and withdrawal.
        #[arg(long)]
        history: bool,
        #[command(flatten)]
        buyer: BuyerArgs,
    },
}

/// The buyer an offer is read for: a municipality (its inhabitants come
/// from the shipped data) and the figures its cost is counted with.
#[derive(Debug, Args, Default, Clone)]
pub struct BuyerArgs {
    /// Municipality (name or AGS): tender-free assessment, contact, cost.
    #[arg(long)]
    pub municipality: Option<String>,
    /// Users, for prices per user.
    #[arg(long)]
    pub users: Option<u64>,
    /// Cases per year, for prices per case.
    #[arg(long)]
    pub cases: Option<u64>,
    /// Hours per year, for prices per hour.
    #[arg(long)]
    pub hours: Option<u64>,
    /// Connected sites, for prices per site.
    #[arg(long)]
    pub sites: Option<u64>,
    /// Connected interfaces, for prices per interface.
    #[arg(long)]
    pub interfaces: Option<u64>,
}

#[derive(Debug, Args, Default)]
pub struct SearchArgs {
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Most results to show.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// The filters of a search.
#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Municipality by name or AGS (e.g. Paderborn, 05774032): offers that may be
    /// delivered there, with whether it may take each without a tender.
    #[arg(long)]
    pub municipality: Option<String>,
    /// Only offers the municipality may take this way: tender_free, in_house,
    /// inter_municipal, framework_agreement, tender (needs --municipality).
    #[arg(long)]
    pub procurement: Option<String>,
    /// AGS of a municipality, Kreis, Regierungsbezirk or the Land (05).
    #[arg(long)]
    pub region: Option<String>,
    /// Category slug; includes its sub-categories.
    #[arg(long)]
    pub category: Option<String>,
    /// OZG-Leistung id.
    #[arg(long)]
    pub ozg: Option<String>,
    /// LeiKa key (14 digits).
    #[arg(long)]
    pub leika: Option<String>,
    /// Certification slug.
    #[arg(long)]
    pub cert: Option<String>,
    /// A standard of the stewards (`kx standards`): offers that declare and
    /// meet it.
    #[arg(long)]
    pub standard: Option<String>,
    /// Provider did.
    #[arg(long)]
    pub provider: Option<String>,
    /// Words that must all appear in title, summary or description.
    #[arg(long)]
    pub text: Option<String>,
    /// Also show: withdrawn, expired, not_yet_valid, consolidated (comma-separated).
    #[arg(long)]
    pub include: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SurveyCommand {
    /// Write a market survey (Markterkundung) for a municipality: the offers it
    /// could take, with a checkpoint its witnesses cosigned and every record
    /// needed to show that no other offer matched, as one file anyone can
    /// check offline with `kx survey verify`. Prints the table it shows.
    Export {
        #[command(flatten)]
        filters: Box<FilterArgs>,
        /// The instant (RFC 3339, e.g. 2026-11-25T10:00:00Z); default: the
        /// node's now.
        #[arg(long)]
        at: Option<String>,
        /// Where to write the bundle; refuses to overwrite an existing file.
        #[arg(long)]
        out: PathBuf,
        /// Seconds to wait for the node's checkpoint to be witnessed.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Check a market-survey bundle offline against the federation's genesis
    /// and print the offers it shows; exits 3 naming the first fault.
    Verify {
        /// The bundle (as written by `kx survey export` or the catalog).
        file: PathBuf,
        /// The federation's genesis record.
        #[arg(long)]
        genesis: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// List the admitted providers.
    List,
    /// Show a provider: profile, standing, offers.
    Show {
        /// The provider's did.
        did: String,
    },
    /// Hand the portfolio (or some offers) to a successor (merger); signed by the
    /// predecessor, effective once the successor accepts.
    Succession {
        /// The predecessor's key file.
        #[arg(long)]
        key: PathBuf,
        /// The successor's did.
        #[arg(long)]
        successor: String,
        /// Cut-over date (2024-01-01) or UTC time.
        #[arg(long)]
        effective_at: String,
        /// Only this offer (repeat); default: the whole portfolio.
        #[arg(long = "offer")]
        offers: Vec<String>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Accept a succession as the successor.
    Accept {
        /// The successor's key file.
        #[arg(long)]
        key: PathBuf,
        /// Record id of the succession.
        succession: String,
        #[command(flatten)]
        out: OutArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DemandCommand {
    /// Sign and submit a demand written as TOML (see examples/demand.toml).
    /// Without `version` in the file, the next version after the node's is used.
    Publish {
        /// The buyer's key file (a municipality's or a provider's).
        #[arg(long)]
        key: PathBuf,
        /// The demand (TOML).
        file: PathBuf,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Withdraw a demand (its current version and all before it).
    Withdraw {
        /// The buyer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The demand id.
        demand_id: String,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// List demand: open by default.
    List {
        /// Only this buyer's (did).
        #[arg(long)]
        buyer: Option<String>,
        /// Only municipalities in this municipality or region (name or AGS).
        #[arg(long)]
        region: Option<String>,
        /// Category slug; includes its sub-categories.
        #[arg(long)]
        category: Option<String>,
        /// open, withdrawn or expired.
        #[arg(long)]
        status: Option<String>,
        /// Most results to show.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Request one offer version (Abruf); prints the request's record id.
    Send(SendArgs),
    /// List requests: yours (--outgoing), to you (--incoming), or all.
    List(RequestListArgs),
    /// Show one request and what became of it.
    Show {
        /// The request's record id.
        id: String,
    },
    /// Withdraw your request before it is answered.
    Withdraw {
        /// The buyer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The request's record id.
        id: String,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Accept a request for your offer (or one you inherited): an agreement.
    Accept {
        /// The provider's key file.
        #[arg(long)]
        key: PathBuf,
        /// The request's record id.
        id: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Decline a request for your offer, with a reason.
    Decline {
        /// The provider's key file.
        #[arg(long)]
        key: PathBuf,
        /// The request's record id.
        id: String,
        /// Why, for the buyer.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: OutArgs,
    },
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The buyer's key file (a municipality's, or a provider's).
    #[arg(long)]
    pub key: PathBuf,
    /// The offer: PROVIDER_DID/OFFER_ID.
    #[arg(long)]
    pub offer: String,
    /// The offer version (default: the current one); its signed terms are
    /// what you request.
    #[arg(long)]
    pub version: Option<u64>,
    /// How much, in the unit of the offer's price (inhabitants, users, cases,
    /// hours; 1 for flat prices).
    #[arg(long)]
    pub quantity: u64,
    /// First day (2027-01-01) or UTC time.
    #[arg(long)]
    pub start: String,
    /// Last day or UTC time (or give --term-months; default: open-ended).
    #[arg(long, conflicts_with = "term_months")]
    pub end: Option<String>,
    /// Term in months from the start.
    #[arg(long)]
    pub term_months: Option<u64>,
    /// The ground you rely on: in_house, inter_municipal, framework_agreement
    /// or tender (default: how the node says you may take the offer).
    #[arg(long)]
    pub legal_basis: Option<String>,
    /// The statute, agreement or tender number you rely on (needed for tender).
    #[arg(long)]
    pub reference: Option<String>,
    /// As a provider: request for this member municipality (AGS; repeat).
    #[arg(long = "on-behalf-of")]
    pub on_behalf_of: Vec<String>,
    /// A note for the provider.
    #[arg(long, default_value = "")]
    pub note: String,
    /// Your role, not a name (signed records are kept for ever).
    #[arg(long, default_value = "Vergabestelle")]
    pub contact_role: String,
    /// A functional mailbox (vergabe@...), not a person's address.
    #[arg(long)]
    pub contact_mailbox: Option<String>,
    #[command(flatten)]
    pub out: OutArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("direction").args(["incoming", "outgoing"])))]
pub struct RequestListArgs {
    /// Requests to you: for your offers and those you inherited.
    #[arg(long, requires = "who")]
    pub incoming: bool,
    /// Requests you sent.
    #[arg(long, requires = "who")]
    pub outgoing: bool,
    /// You, by key file (only its did is read).
    #[arg(long, group = "who")]
    pub key: Option<PathBuf>,
    /// You, by did.
    #[arg(long, group = "who")]
    pub did: Option<String>,
    /// open, accepted, declined or withdrawn.
    #[arg(long)]
    pub status: Option<String>,
    /// Only requests on this offer: PROVIDER_DID/OFFER_ID.
    #[arg(long)]
    pub offer: Option<String>,
    /// Only requests for this municipality or region (name or AGS).
    #[arg(long)]
    pub municipality: Option<String>,
    /// Most results to show.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum AgreementCommand {
    /// List agreements and their status today.
    List {
        /// Agreements a municipality takes part in (name or AGS), or a region's.
        #[arg(long, conflicts_with = "provider")]
        municipality: Option<String>,
        /// Agreements a provider answers for (did).
        #[arg(long)]
        provider: Option<String>,
        /// Agreements of this buyer (did).
        #[arg(long)]
        buyer: Option<String>,
        /// pending, active, ended, expired or over_capacity.
        #[arg(long)]
        status: Option<String>,
        /// Most results to show.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// End an agreement (Kündigung) as its buyer or its provider.
    End {
        /// Your key file.
        #[arg(long)]
        key: PathBuf,
        /// The request's record id.
        id: String,
        /// When it ends: a day (2027-01-01) or UTC time; not in the past
        /// (default: now).
        #[arg(long)]
        effective_at: Option<String>,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: OutArgs,
    },
}

#[derive(Debug, Args)]
pub struct TransitionArgs {
    /// Only this category and those below it (slug, e.g. e-akte-dms).
    #[arg(long)]
    pub category: Option<String>,
    /// The instant (RFC 3339, e.g. 2026-12-31T23:59:59Z; default: now).
    #[arg(long)]
    pub at: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MunicipalityCommand {
    /// Admitted municipalities and those taking something, with their counts.
    List {
        /// Only those in this Kreis or region (AGS prefix, e.g. 05774).
        #[arg(long)]
        region: Option<String>,
    },
    /// One municipality: its agreements, open requests and demand.
    Show {
        /// Name or AGS (e.g. Paderborn, 05774032).
        municipality: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Fetch a record exactly as signed.
    Get {
        /// Record id (64 hex characters).
        id: String,
    },
    /// Verify a signed record offline: strict parsing, signatures, federation.
    Verify {
        /// The record (JSON), as served by GET /v1/records/{id}.
        file: PathBuf,
        /// The federation's genesis record.
        #[arg(long)]
        genesis: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Federation, records, state digest and peers of the node.
    Status,
}

/// Options every governance command shares.
#[derive(Debug, Args)]
pub struct GovArgs {
    /// Steward key file; repeat to add several approvals. The first steward signs
    /// the record once the threshold is reached. A key that is not a current
    /// steward is refused.
    #[arg(long = "steward-key", required = true)]
    pub steward_keys: Vec<PathBuf>,
    /// The federation's genesis record: refuse unless the node serves the
    /// federation it founded.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// Where to write the draft while approvals are missing
    /// (default: <kind>-draft.json).
    #[arg(long)]
    pub draft: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutArgs,
}

#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Suspend a member (provider or municipality): its offers are hidden and
    /// its records from the next one on are refused until it is reinstated.
    Suspend {
        /// The member's did: a provider's, or a municipality's.
        #[arg(long)]
        provider: String,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        /// Cut from this seq of the provider's current key (default: its next).
        #[arg(long)]
        from_seq: Option<u64>,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Lift a member's suspension.
    Reinstate {
        /// The member's did: a provider's, or a municipality's.
        #[arg(long)]
        provider: String,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Revoke a member for good: its records from the cut on are refused; its
    /// history stays and is marked.
    Revoke {
        /// The member's did: a provider's, or a municipality's.
        #[arg(long)]
        provider: String,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        /// Cut from this seq of the provider's current key (default: its next).
        #[arg(long)]
        from_seq: Option<u64>,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Replace a member's lost key: its records under the old key from the cut
    /// on no longer count; it continues under the new key.
    Rekey {
        /// The member's did: a provider's, or a municipality's.
        #[arg(long)]
        provider: String,
        /// The provider's new key (did, from `kx key gen` on the provider's side).
        #[arg(long)]
        new_key: String,
        /// Cut the lost key from this seq (default: its next).
        #[arg(long)]
        from_seq: Option<u64>,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Set how many positions of its log a member's records may take, over all
    /// its keys (default 10,000): beyond it records do not count and nodes
    /// refuse them (`allowance_exceeded`). Bounds what a stolen key can publish.
    Allowance {
        /// The member's did: a provider's, or a municipality's.
        #[arg(long)]
        provider: String,
        /// The new allowance (at least 1).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=9_007_199_254_740_991))]
        records: u64,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Hand a provider's portfolio to a successor when the provider cannot sign
    /// any more; takes effect once the successor accepts (`kx provider accept`).
    Succession {
        /// The predecessor's did.
        #[arg(long)]
        provider: String,
        /// The successor's did.
        #[arg(long)]
        successor: String,
        /// Cut-over date (2024-01-01) or UTC time.
        #[arg(long)]
        effective_at: String,
        /// Only this offer (repeat); default: the whole portfolio.
        #[arg(long = "offer")]
        offers: Vec<String>,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Define a standard of the portfolio, or define it anew, from a TOML file
    /// (see examples/standard.toml).
    DefineStandard {
        /// The standard (TOML).
        file: PathBuf,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Retire a standard: no offer meets it until it is defined again.
    RetireStandard {
        /// The standard's id.
        #[arg(long)]
        standard: String,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Replace the steward set and threshold.
    Stewards {
        /// A steward of the new set (repeat).
        #[arg(long = "set", required = true)]
        set: Vec<String>,
        /// Approvals needed from the new set.
        #[arg(long)]
        threshold: u64,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Admit or remove observer nodes: nodes of municipalities, KDN or auditors
    /// that a closed federation lets in besides its providers' nodes. The new
    /// list is the node's current one with these changes.
    Observers {
        /// Admit this libp2p peer id (`kx node status` on that node shows it);
        /// give `--name` for each (repeat).
        #[arg(long = "add")]
        add: Vec<String>,
        /// The organisation running the node added at the same position.
        #[arg(long = "name")]
        names: Vec<String>,
        /// Remove this peer id (repeat).
        #[arg(long = "remove")]
        remove: Vec<String>,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Name or remove the witnesses whose cosignatures make a checkpoint
    /// trustworthy, and set how many a checkpoint needs. The new list is the
    /// node's current one with these changes.
    Witnesses {
        /// A witness's key name (C2SP: `!` to `~` without `+`, e.g.
        /// `witness.kdn.example/w1`); give `--key` for each (repeat).
        #[arg(long = "add")]
        add: Vec<String>,
        /// The did of the witness added at the same position (its node's
        /// checkpoint key: `GET /v1/checkpoint` of that node names it).
        #[arg(long = "key")]
        keys: Vec<String>,
        /// Remove the witness of this name (repeat).
        #[arg(long = "remove")]
        remove: Vec<String>,
        /// How many witnesses a checkpoint needs (default: a majority).
        #[arg(long)]
        quorum: Option<u64>,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Add approvals to a draft; submits it once the threshold is reached.
    Cosign {
        /// The draft file.
        draft: PathBuf,
        /// Steward key file (repeat for several); a key that is not a current
        /// steward is refused.
        #[arg(long = "steward-key", required = true)]
        steward_keys: Vec<PathBuf>,
        /// The federation's genesis record: refuse unless the node serves the
        /// federation it founded.
        #[arg(long)]
        genesis: Option<PathBuf>,
        #[command(flatten)]
        out: OutArgs,
    },
}

/// Options of `kx demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for keys, genesis and node data (default: a new temp directory,
    /// removed on exit).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// HTTP port of the first node; the others follow (default 7300-7305).
    #[arg(long, default_value_t = 7300)]
    pub base_port: u16,
    /// Set everything up, print where it runs, then stop (for scripts and tests).
    #[arg(long)]
    pub no_wait: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kx").chain(args.iter().copied()))
    }

    #[test]
    fn key_flags() {
        assert!(parse(&["key", "gen", "--out", "k.json"]).is_ok());
        assert!(parse(&["key", "gen"]).is_err());
        assert!(parse(&["key", "show", "k.json", "--json"]).is_ok());
    }

    #[test]
    fn federation_flags() {
        let cli = parse(&[
            "federation",
            "init",
            "--name",
            "KDN",
            "--steward-key",
            "a",
            "--steward-key",
            "b",
            "--threshold",
            "2",
            "--out",
            "g.json",
        ])
        .expect("parse");
        let Command::Federation(FederationCommand::Init(args)) = cli.command else {
            panic!("wrong command");
        };
        assert_eq!(args.steward_keys.len(), 2);
        assert_eq!(args.threshold, Some(2));
        assert!(parse(&["federation", "init", "--name", "KDN", "--out", "g"]).is_err());
        assert!(
            parse(&[
                "federation",
                "admit",
                "--genesis",
                "g",
                "--steward-key",
                "s",
                "--provider",
                "did:key:z",
                "--name",
                "X"
            ])
            .is_ok()
        );
    }

    #[test]
    fn offer_and_search_flags() {
        let cli = parse(&[
            "--node",
            "http://127.0.0.1:1",
            "offer",
            "search",
            "--region",
            "05158004",
            "--category",
            "fachverfahren",
            "--ozg",
            "10124",
            "--leika",
            "99115005104000",
            "--cert",
            "iso27001",
            "--text",
            "melde",
            "--include",
            "withdrawn",
        ])
        .expect("parse");
        assert_eq!(cli.node, "http://127.0.0.1:1");
        let Command::Offer(OfferCommand::Search(a)) = cli.command else {
            panic!("wrong command");
        };
        assert_eq!(a.filters.region.as_deref(), Some("05158004"));
        assert!(
            parse(&[
                "offer", "publish", "--key", "k", "o.toml", "--out", "x.json"
            ])
            .is_ok()
        );
        assert!(parse(&["offer", "withdraw", "--key", "k", "o1"]).is_ok());
        assert!(parse(&["offer", "show", "did/o", "--history"]).is_ok());
        assert!(parse(&["offer", "search", "--limit", "x"]).is_err());
        assert!(
            parse(&[
                "offer",
                "search",
                "--municipality",
                "Paderborn",
                "--procurement",
                "tender_free"
            ])
            .is_ok()
        );
        assert!(parse(&["offer", "compare", "a/x"]).is_err());
        assert!(
            parse(&[
                "offer",
                "compare",
                "a/x",
                "b/y",
                "--municipality",
                "05774032"
            ])
            .is_ok()
        );
        assert!(parse(&["offer", "compare", "a/1", "b/2", "c/3", "d/4", "e/5"]).is_err());
        assert!(parse(&["demo", "--base-port", "8000", "--no-wait"]).is_ok());
    }

    #[test]
    fn record_provider_node_flags() {
        assert!(parse(&["record", "verify", "r.json", "--genesis", "g.json"]).is_ok());
        assert!(parse(&["record", "verify", "r.json"]).is_err());
        assert!(parse(&["record", "get", "ab"]).is_ok());
        assert!(parse(&["provider", "list"]).is_ok());
        assert!(parse(&["provider", "show", "did"]).is_ok());
        assert!(
            parse(&[
                "provider",
                "succession",
                "--key",
                "k",
                "--successor",
                "d",
                "--effective-at",
                "2024-01-01",
                "--offer",
                "o"
            ])
            .is_ok()
        );
        assert!(parse(&["provider", "accept", "--key", "k", "abc"]).is_ok());
        assert!(parse(&["key", "rotate", "--key", "a", "--new-key", "b"]).is_ok());
        assert!(
            parse(&[
                "federation",
                "suspend",
                "--provider",
                "d",
                "--reason",
                "r",
                "--steward-key",
                "s"
            ])
            .is_ok()
        );
        assert!(
            parse(&[
                "federation",
                "revoke",
                "--provider",
                "d",
                "--reason",
                "r",
                "--steward-key",
                "s",
                "--from-seq",
                "3"
            ])
            .is_ok()
        );
        assert!(
            parse(&[
                "federation",
                "reinstate",
                "--provider",
                "d",
                "--reason",
                "r",
                "--steward-key",
                "s",
                "--draft",
                "x.json"
            ])
            .is_ok()
        );
        assert!(
            parse(&[
                "federation",
                "stewards",
                "--set",
                "a",
                "--set",
                "b",
                "--threshold",
                "2",
                "--steward-key",
                "s"
            ])
            .is_ok()
        );
        assert!(parse(&["federation", "cosign", "d.json", "--steward-key", "s"]).is_ok());
        assert!(
            parse(&[
                "federation",
                "rekey",
                "--provider",
                "p",
                "--new-key",
                "n",
                "--reason",
                "lost",
                "--steward-key",
                "s"
            ])
            .is_ok()
        );
        assert!(
            parse(&[
                "federation",
                "succession",
                "--provider",
                "p",
                "--successor",
                "s",
                "--effective-at",
                "2024-01-01",
                "--reason",
                "r",
                "--steward-key",
                "s"
            ])
            .is_ok()
        );
        assert!(parse(&["federation", "suspend", "--provider", "d", "--reason", "r"]).is_err());
        assert!(parse(&["node", "status", "--json"]).is_ok());
        assert!(parse(&["profile", "publish", "--key", "k", "p.toml"]).is_ok());
    }

    #[test]
    fn exchange_flags() {
        let admit = [
            "federation",
            "admit-municipality",
            "--genesis",
            "g",
            "--steward-key",
            "s",
        ];
        let with = |extra: &[&'static str]| {
            let mut v: Vec<&str> = admit.to_vec();
            v.extend_from_slice(extra);
            parse(&v)
        };
        assert!(with(&["--ags", "05774032", "--member", "did:key:z"]).is_ok());
        assert!(with(&["--csv", "m.csv"]).is_ok());
        assert!(with(&[]).is_err(), "one of --ags and --csv");
        assert!(
            with(&["--ags", "05774032"]).is_err(),
            "--ags needs --member"
        );
        assert!(with(&["--ags", "05774032", "--member", "d", "--csv", "m.csv"]).is_err());
        assert!(parse(&["demand", "publish", "--key", "k", "d.toml"]).is_ok());
        assert!(parse(&["demand", "withdraw", "--key", "k", "d1"]).is_ok());
        assert!(parse(&["demand", "list", "--region", "05774"]).is_ok());
        let send = [
            "request",
            "send",
            "--key",
            "k",
            "--offer",
            "did/o",
            "--quantity",
            "5",
            "--start",
            "2027-01-01",
        ];
        assert!(parse(&send).is_ok());
        let mut both = send.to_vec();
        both.extend(["--end", "2028-01-01", "--term-months", "12"]);
        assert!(parse(&both).is_err(), "an end or a term");
        assert!(parse(&["request", "send", "--key", "k", "--offer", "d/o"]).is_err());
        assert!(parse(&["request", "list", "--incoming", "--key", "k"]).is_ok());
        assert!(
            parse(&["request", "list", "--incoming"]).is_err(),
            "incoming for whom"
        );
        assert!(parse(&["request", "list", "--incoming", "--outgoing", "--did", "d"]).is_err());
        assert!(parse(&["request", "list", "--status", "open"]).is_ok());
        assert!(parse(&["request", "accept", "--key", "k", "ab"]).is_ok());
        assert!(
            parse(&["request", "decline", "--key", "k", "ab"]).is_err(),
            "a reason"
        );
        assert!(parse(&["request", "decline", "--key", "k", "ab", "--reason", "voll"]).is_ok());
        assert!(parse(&["request", "withdraw", "--key", "k", "ab"]).is_ok());
        assert!(parse(&["agreement", "list", "--municipality", "Paderborn"]).is_ok());
        assert!(
            parse(&[
                "agreement",
                "list",
                "--municipality",
                "P",
                "--provider",
                "d"
            ])
            .is_err()
        );
        assert!(
            parse(&[
                "agreement",
                "end",
                "--key",
                "k",
                "ab",
                "--effective-at",
                "2027-01-01"
            ])
            .is_ok()
        );
        assert!(
            parse(&[
                "offer",
                "consolidate",
                "--key",
                "k",
                "did/o",
                "--replacement",
                "n"
            ])
            .is_ok()
        );
        assert!(parse(&["municipality", "show", "Paderborn"]).is_ok());
        assert!(parse(&["municipality", "list", "--region", "05774"]).is_ok());
    }
}
