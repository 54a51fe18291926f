//! Typed access to security records: JSON (de)serialization over any backend.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{MetaError, SecurityRecords, SecurityTable};

fn parse<T: DeserializeOwned>(text: &str) -> Result<T, MetaError> {
    serde_json::from_str(text).map_err(|e| MetaError::Corrupt(e.to_string()))
}

impl dyn SecurityRecords {
    pub async fn load<T: DeserializeOwned>(
        &self,
        table: SecurityTable,
    ) -> Result<Vec<T>, MetaError> {
        let texts = self.load_records(table).await?;
        texts.iter().map(|t| parse(t)).collect()
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        table: SecurityTable,
        key: &str,
    ) -> Result<Option<T>, MetaError> {
        self.get_record(table, key)
            .await?
            .map(|t| parse(&t))
            .transpose()
    }

    pub async fn put<T: Serialize + ?Sized>(
        &self,
        table: SecurityTable,
        key: &str,
        value: &T,
    ) -> Result<(), MetaError> {
        let json = serde_json::to_string(value).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        self.put_record(table, key, &json).await
    }

    pub async fn delete(&self, table: SecurityTable, key: &str) -> Result<(), MetaError> {
        self.delete_record(table, key).await
    }
}
