//! The operators' list across regions. Each region's `health` partition is queried with
//! the same `after` and limit, and the answers are merged by sort key
//! (`{tenant_id}#{type}`):
//!
//! - a region whose partition ended returned every key it holds after `after`;
//! - a region with more evaluated every key up to its `last_evaluated`, and none beyond;
//! - so the keys up to the smallest `last_evaluated` of the regions with more (the
//!   *bound*) are complete in every region: they are kept, the later ones dropped and
//!   read again by the next query, which continues after the bound.
//!
//! No key is skipped (each region returns everything up to the bound) nor emitted twice
//! (the next query starts after it). Without a bound, every region ended.

use std::collections::BTreeMap;

use logspoke_contract::ledger::{HealthItem, Target};
use logspoke_contract::Region;

use super::merge::{RegionItem, TargetHealth};
use super::HealthPage;

/// The regions' pages merged up to the bound.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedPage {
    /// The targets up to the bound, in sort-key order, each with the items the regions
    /// returned for it, in configured order.
    pub targets: Vec<(Target, Vec<(Region, HealthItem)>)>,
    /// Where the next query continues: the bound; `None` when every region ended.
    pub last_evaluated: Option<String>,
}

/// Merges one page of each region (`pages`, in configured order).
pub fn merge_pages(pages: Vec<(Region, HealthPage)>) -> MergedPage {
    let bound = pages
        .iter()
        .filter_map(|(_, page)| page.last_evaluated.clone())
        .min();
    let mut targets: BTreeMap<String, (Target, Vec<(Region, HealthItem)>)> = BTreeMap::new();
    for (region, page) in pages {
        for item in page.items {
            let key = item.target.partition();
            if bound.as_ref().is_some_and(|bound| &key > bound) {
                continue;
            }
            let entry = targets
                .entry(key)
                .or_insert_with(|| (item.target.clone(), Vec::new()));
            entry.1.push((region, item));
        }
    }
    MergedPage {
        targets: targets.into_values().collect(),
        last_evaluated: bound,
    }
}

/// A listed target's health from the items the regions returned. Without a pre-filter
/// a region that returned nothing for it recorded nothing: its item is empty, and every
/// region in `read` is listed. With one, a region may have left out a target it
/// holds, so only the regions that returned an item are listed (the reader fills in
/// the others for the page it answers with).
pub fn target_health(
    target: Target,
    items: Vec<(Region, HealthItem)>,
    read: &[Region],
    prefiltered: bool,
    unreadable: &[Region],
) -> TargetHealth {
    let mut items = items;
    let regions = if prefiltered {
        items
            .into_iter()
            .map(|(region, item)| region_item(region, item))
            .collect()
    } else {
        read.iter()
            .map(|region| {
                let position = items.iter().position(|(r, _)| r == region);
                let item = position.map_or_else(|| HealthItem::empty(target.clone()), |i| items.remove(i).1);
                region_item(*region, item)
            })
            .collect()
    };
    TargetHealth {
        target,
        regions,
        unreadable: unreadable.to_vec(),
    }
}

fn region_item(region: Region, item: HealthItem) -> RegionItem {
    RegionItem {
        region,
        item,
        counters: None,
    }
}
