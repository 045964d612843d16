//! `kx`: the KX command line for provider admins, federation stewards and
//! municipalities.
//!
//! Exit codes (stable, for scripts):
//! - 0: success
//! - 1: the command failed (file not readable, bad key file, ...)
//! - 2: usage error (unknown flag, missing argument)
//! - 3: a record is invalid or was rejected; the message names the error code
//!
//! A closed stdout (e.g. `kx ... | head`) ends the command quietly with 0.
//!
//! Modules: `args` (the command line), `error` (refusals), `client` (the node
//! API, typed by `kx_api`), and one module per group of commands: `offline`
//! (genesis, verification), `secret` (key files and passphrases), `publish` (signing and submitting),
//! `govern` (steward actions), `exchange` (demand, requests, agreements),
//! `query` (reading), `survey` (market surveys), `demo`.

mod args;
mod client;
mod demo;
mod error;
mod exchange;
mod govern;
mod offline;
mod publish;
mod query;
mod secret;
mod sheet;
mod survey;

use anyhow::Result;
use args::{
    Cli, Command, FederationCommand, KeyCommand, NodeCommand, OfferCommand, ProfileCommand,
    ProviderCommand, RecordCommand, SurveyCommand,
};
use clap::Parser;
use client::Client;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            if e.chain()
                .any(|c| c.downcast_ref::<error::Refused>().is_some())
            {
                ExitCode::from(3)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// Runs a parsed command line.
fn run(cli: Cli) -> Result<()> {
    let json = cli.json;
    secret::set_passphrase_file(cli.passphrase_file.clone());
    let client = || Client::new(&cli.node);
    match cli.command {
        Command::Key(KeyCommand::Gen {
            out,
            unencrypted,
            iterations,
        }) => secret::key_gen(&out, unencrypted, iterations.count, json),
        Command::Key(KeyCommand::Show { file }) => secret::key_show(&file, json),
        Command::Key(KeyCommand::Encrypt { file, iterations }) => {
            secret::key_encrypt(&file, iterations.count, json)
        }
        Command::Key(KeyCommand::Decrypt { file }) => secret::key_decrypt(&file, json),
        Command::Key(KeyCommand::Rotate { key, new_key, out }) => {
            publish::rotate(&client(), &key, &new_key, out, json)
        }
        Command::Federation(FederationCommand::Init(args)) => offline::federation_init(args, json),
        Command::Federation(FederationCommand::Admit(args)) => {
            govern::admit(&client(), &args.provider, &args.name, args.gov, json)
        }
        Command::Federation(FederationCommand::AdmitMunicipality(args)) => {
            govern::admit_municipalities(&client(), args, json)
        }
        Command::Federation(FederationCommand::Gov(cmd)) => govern::run(&client(), cmd, json),
        Command::Profile(ProfileCommand::Publish { key, file, out }) => {
            publish::profile(&client(), &key, &file, out, json)
        }
        Command::Offer(OfferCommand::Publish { key, file, out }) if sheet::is_sheet(&file) => {
            sheet::publish(&client(), &key, &file, out, json)
        }
        Command::Offer(OfferCommand::Publish { key, file, out }) => {
            publish::offer(&client(), &key, &file, out, json)
        }
        Command::Offer(OfferCommand::Export { provider, out }) => {
            sheet::export(&client(), &provider, out.as_deref())
        }
        Command::Offer(OfferCommand::Withdraw {
            key,
            offer_id,
            reason,
            out,
        }) => publish::withdraw(&client(), &key, &offer_id, &reason, out, json),
        Command::Offer(OfferCommand::Search(args)) => query::search(&client(), &args, json),
        Command::Offer(OfferCommand::Compare { references, buyer }) => {
            query::compare(&client(), &references, &buyer, json)
        }
        Command::Offer(OfferCommand::Consolidate {
            key,
            offer,
            replacement,
            reason,
            out,
        }) => exchange::consolidate(
            &client(),
            &key,
            &offer,
            replacement.as_deref(),
            &reason,
            out,
            json,
        ),
        Command::Offer(OfferCommand::Show {
            reference,
            history,
            buyer,
        }) => query::show_offer(&client(), &reference, history, &buyer, json),
        Command::Provider(ProviderCommand::List) => query::providers(&client(), json),
        Command::Provider(ProviderCommand::Show { did }) => query::provider(&client(), &did, json),
        Command::Provider(ProviderCommand::Succession {
            key,
            successor,
            effective_at,
            offers,
            out,
        }) => publish::succession(
            &client(),
            &key,
            &successor,
            &effective_at,
            &offers,
            out,
            json,
        ),
        Command::Provider(ProviderCommand::Accept {
            key,
            succession,
            out,
        }) => publish::accept(&client(), &key, &succession, out, json),
        Command::Demand(cmd) => exchange::demand(&client(), cmd, json),
        Command::Request(cmd) => exchange::request(&client(), cmd, json),
        Command::Agreement(cmd) => exchange::agreement(&client(), cmd, json),
        Command::Municipality(cmd) => exchange::municipality(&client(), cmd, json),
        Command::Transition(args) => exchange::transition(&client(), &args, json),
        Command::Standards => query::standards(&client(), json),
        Command::Record(RecordCommand::Get { id }) => query::record_get(&client(), &id),
        Command::Record(RecordCommand::Verify { file, genesis }) => {
            offline::verify(&file, &genesis, json)
        }
        Command::Survey(SurveyCommand::Export {
            filters,
            at,
            out,
            wait,
        }) => survey::export(&client(), &filters, at.as_deref(), &out, wait, json),
        Command::Survey(SurveyCommand::Verify { file, genesis }) => {
            survey::verify(&file, &genesis, json)
        }
        Command::Node(NodeCommand::Status) => query::status(&client(), json),
        Command::Demo(args) => demo::run(args),
    }
}
