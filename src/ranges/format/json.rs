//! JSON output of `ranges list` (the contract scripts read).

use crate::ranges::format::Rendering;
use crate::ranges::report::{
    self, BudgetDto, FamilyDto, ListReport, OwnerDto, OwnersDto, SelectionDto, SourceDto,
};
use crate::ranges::select::Families;

/// Renders the listing as a `schema_version` 1 document.
pub fn render(rendering: &Rendering) -> anyhow::Result<String> {
    let selection = rendering.selection;
    let families = rendering.listings;
    let budget = rendering.budget.map(|budget| BudgetDto {
        rules_per_direction: budget.rules_per_direction,
        port_ranges: rendering.args.ports.0.len(),
        cidrs_per_family: budget.cidrs_per_family,
    });
    let owners = rendering.budget.map(|_| owners(rendering));

    let document = ListReport {
        schema_version: report::SCHEMA_VERSION,
        sync_token: rendering.ranges.sync_token.clone(),
        create_date: rendering.ranges.create_date.clone(),
        source: SourceDto::of(rendering.loaded),
        selection: SelectionDto {
            services: selection.services.clone(),
            regions: selection.regions.clone(),
            border_groups: selection.border_groups.clone(),
            families: match selection.families {
                Families::Ipv4 => "ipv4",
                Families::Ipv6 => "ipv6",
                Families::Both => "both",
            },
            instance_region: rendering.instance_region,
            ports: rendering.args.ports.to_string(),
        },
        exact_count: families.iter().map(|family| family.exact.len()).sum(),
        cidrs: rendering.cidrs().iter().map(ToString::to_string).collect(),
        extra_addresses: budget.as_ref().map(|_| rendering.extra()),
        budget,
        extra_owners: owners,
        families: families
            .iter()
            .map(|family| FamilyDto {
                family: family.name(),
                exact_count: family.exact.len(),
                cidr_count: family.cidrs.len(),
                extra_addresses: family.extra.to_string(),
                cidrs: family
                    .cidrs
                    .iter()
                    .map(|block| block.to_net(family.bits).to_string())
                    .collect(),
            })
            .collect(),
        warnings: rendering.ranges.warnings.clone(),
    };
    report::to_json(&document)
}

/// The owners of the extra space, both families added up.
fn owners(rendering: &Rendering) -> OwnersDto {
    let families = rendering.listings;
    let aws: Vec<u128> = families.iter().map(|family| family.owners.aws).collect();
    let not_aws: Vec<u128> = families
        .iter()
        .map(|family| family.owners.not_aws)
        .collect();
    OwnersDto {
        aws: crate::ranges::list::decimal_sum(&aws),
        not_aws: crate::ranges::list::decimal_sum(&not_aws),
        by_service: families
            .iter()
            .flat_map(|family| family.owners.by_service.iter())
            .map(|(service, region, addresses)| OwnerDto {
                service: service.clone(),
                region: region.clone(),
                addresses: addresses.to_string(),
            })
            .collect(),
    }
}
